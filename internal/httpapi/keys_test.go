package httpapi_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/internal/testcluster"
)

func TestKeysStatusesAndHeaders(t *testing.T) {
	c := testcluster.New(t, 1)
	base := c.Members[0].ClientURL

	r, err := c.Do(0, "PUT", "/k", nil, url.Values{"value": {"v"}})
	if err != nil || r.Status != http.StatusCreated || r.Action != "set" {
		t.Fatalf("first set: %v %+v", err, r)
	}
	r, err = c.Do(0, "PUT", "/k", url.Values{"noValueOnSuccess": {"true"}}, url.Values{"value": {"w"}})
	if err != nil || r.Status != http.StatusOK || r.Node != nil || r.Action != "set" {
		t.Fatalf("noValueOnSuccess set: %v %s", err, r.Body)
	}

	// HEAD: headers only.
	resp, err := http.Head(base + "/v2/keys/k")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || len(b) != 0 || resp.Header.Get("X-Etcd-Index") == "" {
		t.Fatalf("HEAD: %s %q %v", resp.Status, b, resp.Header)
	}

	// Other methods: 405 with Allow, and no cluster header, as etcd.
	req, _ := http.NewRequest("PATCH", base+"/v2/keys/k", nil)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "HEAD,GET,PUT,POST,DELETE" ||
		resp.Header.Get("X-Etcd-Cluster-Id") != "" {
		t.Fatalf("PATCH: %s %v", resp.Status, resp.Header)
	}

	// A refused write changes nothing: the index stays and the key keeps its value.
	before, _ := c.Get(0, "/k", nil)
	r, _ = c.Do(0, "PUT", "/k", url.Values{"ttl": {"x"}}, url.Values{"value": {"bad"}})
	if r == nil || r.Err == nil || r.Err.ErrorCode != 202 || r.Header.Get("X-Raft-Index") != "" {
		t.Fatalf("bad ttl: %+v", r)
	}
	after, _ := c.Get(0, "/k", nil)
	if after.Node.Value != "w" || after.Header.Get("X-Etcd-Index") != before.Header.Get("X-Etcd-Index") {
		t.Fatalf("a refused write changed the store: %+v", after.Node)
	}

	// An oversized body is refused before it is read whole.
	big := strings.Repeat("v", 2<<20)
	resp, err = http.Post(base+"/v2/keys/big", "application/x-www-form-urlencoded", strings.NewReader("value="+big))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("2 MiB body: %s", resp.Status)
	}
	if g, _ := c.Do(0, "GET", "/big", nil, nil); g.Err == nil || g.Err.ErrorCode != 100 {
		t.Fatalf("oversized write left a key: %s", g.Body)
	}
}
