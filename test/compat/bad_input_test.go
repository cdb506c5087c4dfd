package compat

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/procs"
)

// Limits given to cairnd for this test; the request limit keeps its
// documented default (1.5 MiB, etcd v3's).
const (
	testMaxKeyBytes   = 64
	testMaxValueBytes = 1024
	defaultMaxRequest = 1536 * 1024
)

// TestBadInputChangesNothing: each malformed request gets a 4xx JSON error
// and leaves the store index and the keyspace as they were. etcd accepts
// some of these (it cleans `//` and `..` with a redirect, stores NUL and
// invalid UTF-8, has no size limits); those cases are cairnd-only, and the
// ones etcd rejects run against etcd too with its exact code and cause.
func TestBadInputChangesNothing(t *testing.T) {
	var args []string
	if !procs.IsEtcd() {
		args = []string{"--max-key-bytes=64", "--max-value-bytes=1024"}
	}
	n := procs.StartNode(t, procs.Options{Args: args})
	ep := n.ClientURL()
	do(t, http.MethodPut, ep+"/v2/keys/bad/existing", url.Values{"value": {"keep"}, "ttl": {"100"}})

	noRedirect := &http.Client{Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	cases := []struct {
		name     string
		path     string // raw path and query after the client URL
		form     url.Values
		rawBody  string // used instead of form when set
		absent   string // key path that must not exist afterwards
		etcdToo  bool
		code     int    // etcd error code, when etcd has one
		cause    string // checked when code is set
		statuses []int  // acceptable statuses
	}{
		{name: "double slash", path: "/v2/keys/bad//x", form: url.Values{"value": {"1"}}, absent: "/bad/x", statuses: []int{400}},
		{name: "dot dot", path: "/v2/keys/bad/../x", form: url.Values{"value": {"1"}}, absent: "/x", statuses: []int{400}},
		{name: "dot element", path: "/v2/keys/bad/./x", form: url.Values{"value": {"1"}}, absent: "/bad/x", statuses: []int{400}},
		{name: "NUL byte", path: "/v2/keys/bad/a%00b", form: url.Values{"value": {"1"}}, statuses: []int{400}},
		{name: "invalid UTF-8", path: "/v2/keys/bad/a%ffb", form: url.Values{"value": {"1"}}, statuses: []int{400}},
		{name: "TTL not a number", path: "/v2/keys/bad/t?ttl=abc", form: url.Values{"value": {"1"}}, absent: "/bad/t", etcdToo: true,
			code: 202, cause: `invalid value for "ttl"`, statuses: []int{400}},
		{name: "negative TTL", path: "/v2/keys/bad/t", form: url.Values{"value": {"1"}, "ttl": {"-1"}}, absent: "/bad/t", etcdToo: true,
			code: 202, cause: `invalid value for "ttl"`, statuses: []int{400}},
		{name: "unknown prevExist", path: "/v2/keys/bad/p?prevExist=maybe", form: url.Values{"value": {"1"}}, absent: "/bad/p", etcdToo: true,
			code: 209, cause: "invalid value for prevExist", statuses: []int{400}},
		{name: "prevIndex not a number", path: "/v2/keys/bad/existing?prevIndex=abc", form: url.Values{"value": {"2"}}, etcdToo: true,
			code: 203, statuses: []int{400}},
		{name: "value on refresh", path: "/v2/keys/bad/existing?refresh=true&prevExist=true&ttl=10", form: url.Values{"value": {"zz"}}, etcdToo: true,
			code: 211, cause: "A value was provided on a refresh", statuses: []int{400}},
		{name: "key too long", path: "/v2/keys/bad/" + strings.Repeat("k", testMaxKeyBytes+1), form: url.Values{"value": {"1"}},
			absent: "/bad/" + strings.Repeat("k", testMaxKeyBytes+1), statuses: []int{400, 413}},
		{name: "value too large", path: "/v2/keys/bad/big", form: url.Values{"value": {strings.Repeat("v", testMaxValueBytes+1)}},
			absent: "/bad/big", statuses: []int{400, 413}},
		{name: "body over the default request limit", path: "/v2/keys/bad/body",
			rawBody: "value=1&pad=" + strings.Repeat("p", defaultMaxRequest), absent: "/bad/body", statuses: []int{400, 413}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if procs.IsEtcd() && !tc.etcdToo {
				t.Skip("cairnd-only: etcd accepts this input")
			}
			before := etcdIndex(t, n)
			body := tc.form.Encode()
			if tc.rawBody != "" {
				body = tc.rawBody
			}
			req, err := http.NewRequest(http.MethodPut, ep+tc.path, strings.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			resp, err := noRedirect.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ok := false
			for _, s := range tc.statuses {
				ok = ok || resp.StatusCode == s
			}
			if !ok {
				t.Errorf("status %d (%s), want one of %v", resp.StatusCode, b, tc.statuses)
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q, want application/json (body %q)", ct, b)
			}
			var e struct {
				ErrorCode *int   `json:"errorCode"`
				Message   string `json:"message"`
				Cause     string `json:"cause"`
			}
			if err := json.Unmarshal(b, &e); err != nil || e.Message == "" {
				t.Errorf("body is not a JSON error with a message: %q (%v)", b, err)
			}
			if tc.code != 0 && (e.ErrorCode == nil || *e.ErrorCode != tc.code || (tc.cause != "" && e.Cause != tc.cause)) {
				t.Errorf("error %s, want code %d cause %q", b, tc.code, tc.cause)
			}
			if after := etcdIndex(t, n); after != before {
				t.Errorf("store index moved %d -> %d: something was applied", before, after)
			}
			if tc.absent != "" {
				if code, ev := getKey(t, ep, tc.absent); code == http.StatusOK {
					t.Errorf("%s exists after a rejected write: %d %+v", tc.absent, code, ev)
				}
			}
			if code, ev := getKey(t, ep, "/bad/existing"); code != 200 || ev.Node.Value != "keep" || ev.Node.TTL < 90 {
				t.Errorf("/bad/existing changed: %d %+v", code, ev)
			}
		})
	}
}
