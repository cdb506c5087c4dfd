package testcluster

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/cairn-io/cairn/api"
)

// Response is a decoded /v2/keys answer as a client sees it.
type Response struct {
	Status   int
	Header   http.Header
	Body     []byte
	Action   string     `json:"action"`
	Node     *KeyNode   `json:"node"`
	PrevNode *KeyNode   `json:"prevNode"`
	Err      *api.Error `json:"-"`
}

// KeyNode is a node of a keys answer.
type KeyNode struct {
	Key           string     `json:"key"`
	Value         string     `json:"value"`
	Dir           bool       `json:"dir"`
	TTL           int64      `json:"ttl"`
	Nodes         []*KeyNode `json:"nodes"`
	ModifiedIndex uint64     `json:"modifiedIndex"`
	CreatedIndex  uint64     `json:"createdIndex"`
}

// Do sends a keys request to member i: method, key, query and form parameters.
func (c *Cluster) Do(i int, method, key string, query, form url.Values) (*Response, error) {
	u := c.member(i).ClientURL + "/v2/keys" + key
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, u, body)
	if err != nil {
		return nil, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	r := &Response{Status: resp.StatusCode, Header: resp.Header, Body: b}
	if resp.StatusCode >= 300 {
		var e api.Error
		if json.Unmarshal(b, &e) == nil && e.ErrorCode != 0 {
			r.Err = &e
			return r, nil
		}
		return r, fmt.Errorf("%s %s: %s: %s", method, key, resp.Status, b)
	}
	if len(b) > 0 {
		if err := json.Unmarshal(b, r); err != nil {
			return r, fmt.Errorf("%s %s: decoding %q: %v", method, key, b, err)
		}
	}
	return r, nil
}

// Put sets key to value through member i and fails on any error answer.
func (c *Cluster) Put(i int, key, value string) (*Response, error) {
	r, err := c.Do(i, http.MethodPut, key, nil, url.Values{"value": {value}})
	if err == nil && r.Err != nil {
		err = r.Err
	}
	return r, err
}

// Get reads key through member i with optional query parameters.
func (c *Cluster) Get(i int, key string, query url.Values) (*Response, error) {
	r, err := c.Do(i, http.MethodGet, key, query, nil)
	if err == nil && r.Err != nil {
		err = r.Err
	}
	return r, err
}
