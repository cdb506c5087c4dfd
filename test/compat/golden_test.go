package compat

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/procs"
)

const samplesFile = "testdata/etcd-v2-wire-samples.txt"

// The samples were recorded on a cluster whose keyspace already held these
// keys; firstSampleIndex is the index of the first of them. Numbers at or
// above it in the samples are store indexes, shifted by a constant offset
// on a fresh node; smaller ones (prevIndex=1, waitIndex=1, index 0 of
// pre-store errors) are literal.
const firstSampleIndex = 9

var prelude = []struct {
	path string
	form url.Values
}{
	{"/v2/keys/newkey", url.Values{"value": {"v1"}}}, // 9
	{"/v2/keys/d1?dir=true", nil},                    // 10
	{"/v2/keys/foo", url.Values{"value": {"a"}}},     // 11
	{"/v2/keys/foo", url.Values{"value": {"bar"}}},   // 12
}

// clusterOnly sections need several members; TestGoldenCluster covers them.
var clusterOnly = map[string]bool{
	"/v2/members": true,
	"/v2/stats/leader (on leader http://127.0.0.1:23379)":      true,
	"/v2/stats/leader (on follower http://127.0.0.1:24379)":    true,
	"/v2/stats/self (leader)":                                  true,
	"/v2/stats/self (follower)":                                true,
	"/v2/machines":                                             true,
	"/v2/members/leader (used by client/v2 MembersAPI.Leader)": true,
}

type goldenRun struct {
	t      *testing.T
	n      *procs.Node
	offset int64
}

var sampleNumRE = regexp.MustCompile(`("(?:modifiedIndex|createdIndex|index)":)(\d+)|/(\d{20})"|\[(\d+) != (\d+)\]|\[(\d+)/(\d+)\]`)

func (g *goldenRun) shift(s string) string {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < firstSampleIndex {
		return s
	}
	return strconv.FormatInt(n+g.offset, 10)
}

// translate moves the sample's store indexes to this node's.
func (g *goldenRun) translate(b string) string {
	return sampleNumRE.ReplaceAllStringFunc(b, func(m string) string {
		p := sampleNumRE.FindStringSubmatch(m)
		switch {
		case p[1] != "":
			return p[1] + g.shift(p[2])
		case p[3] != "":
			v, _ := strconv.ParseInt(g.shift(p[3]), 10, 64)
			return fmt.Sprintf("/%020d\"", v)
		case p[4] != "":
			return "[" + g.shift(p[4]) + " != " + g.shift(p[5]) + "]"
		default:
			return "[" + g.shift(p[6]) + "/" + g.shift(p[7]) + "]"
		}
	})
}

func (g *goldenRun) send(method, target, form string) (*http.Response, []byte) {
	g.t.Helper()
	var body io.Reader
	if form != "" {
		body = strings.NewReader(form)
	}
	req, err := http.NewRequest(method, g.n.ClientURL()+target, body)
	if err != nil {
		g.t.Fatal(err)
	}
	if form != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := httpc.Do(req)
	if err != nil {
		g.t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

var waitIndexRE = regexp.MustCompile(`waitIndex=(\d+)`)

// TestGoldenSingleNode replays the samples' request sequence on one fresh
// node and compares status, the headers that matter and the body byte for
// byte after normalising what must differ (indexes shift by a constant,
// expiration times, remaining TTLs within a second, children order of
// unsorted listings, counters).
func TestGoldenSingleNode(t *testing.T) {
	samples, err := parseSamples(samplesFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) < 40 {
		t.Fatalf("parsed only %d samples", len(samples))
	}
	n := procs.StartNode(t, procs.Options{})
	g := &goldenRun{t: t, n: n}
	for i, p := range prelude {
		form := ""
		if p.form != nil {
			form = p.form.Encode()
		}
		resp, _ := g.send(http.MethodPut, p.path, form)
		idx, _ := strconv.ParseInt(resp.Header.Get("X-Etcd-Index"), 10, 64)
		if resp.StatusCode/100 != 2 {
			t.Fatalf("prelude %s: %s", p.path, resp.Status)
		}
		if i == 0 {
			g.offset = idx - firstSampleIndex
		} else if idx != int64(firstSampleIndex+i)+g.offset {
			t.Fatalf("prelude write %d got index %d: indexes are not consecutive", i, idx)
		}
	}
	for _, s := range samples {
		if clusterOnly[s.title] {
			continue
		}
		t.Run(s.title, func(t *testing.T) {
			g.t = t
			defer func() { g.t = nil }()
			g.runSample(s)
		})
	}
}

func (g *goldenRun) runSample(s sample) {
	t := g.t
	method, target, form := s.method, s.target, s.form
	var trigger func()
	switch {
	case strings.HasPrefix(s.title, "wait=true&recursive=true watch"):
		method, target = http.MethodGet, "/v2/keys/s/wd?wait=true&recursive=true"
		trigger = func() { g.send(http.MethodPut, "/v2/keys/s/wd/x/y", "value=deep") }
	case strings.HasPrefix(s.title, "watch on a key with ttl=1"):
		g.send(http.MethodPut, "/v2/keys/s/exp?ttl=1", "value=e")
		method, target = http.MethodGet, "/v2/keys/s/exp?wait=true"
		trigger = func() {}
	case strings.HasPrefix(s.title, "wait=true watch"):
		trigger = func() { g.send(http.MethodPut, "/v2/keys/s/w", "value=watched") }
	case strings.HasPrefix(s.title, "GET dir (non-recursive)"):
		g.send(http.MethodPut, "/v2/keys/s/dir/a", "value=1")
		g.send(http.MethodPut, "/v2/keys/s/dir/sub/b", "value=2")
		g.send(http.MethodPut, "/v2/keys/s/dir/sub/c?ttl=300", "value=3")
	case strings.HasPrefix(s.title, "GET TTL key after ~1s"):
		waitFor(t, 5*time.Second, "ttl to count down to 4", func() (bool, string) {
			_, b := g.send(http.MethodGet, "/v2/keys/s/ttlkey", "")
			return strings.Contains(string(b), `"ttl":4,`), string(b)
		})
	case strings.HasPrefix(s.title, "waitIndex too old"):
		g.fill(1010)
	}
	if method == "" {
		t.Fatalf("section %q has no request and no recipe", s.title)
	}
	target = waitIndexRE.ReplaceAllStringFunc(target, func(m string) string {
		return "waitIndex=" + g.shift(strings.TrimPrefix(m, "waitIndex="))
	})

	var resp *http.Response
	var body []byte
	if trigger != nil {
		before, _ := watchers(t, g.n)
		done := make(chan struct{})
		go func() {
			defer close(done)
			resp, body = g.sendAsync(method, target)
		}()
		waitFor(t, 10*time.Second, "the watch to register", func() (bool, string) {
			select {
			case <-done:
				return true, "answered"
			default:
			}
			w, st := watchers(t, g.n)
			return w > before, st
		})
		trigger()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			t.Fatal("watch did not answer")
		}
		if resp == nil {
			t.Fatal("watch request failed")
		}
	} else {
		resp, body = g.send(method, target, form)
	}
	g.compare(s, resp, body)
}

// sendAsync is send for a goroutine: failures come back as a nil response.
func (g *goldenRun) sendAsync(method, target string) (*http.Response, []byte) {
	req, err := http.NewRequest(method, g.n.ClientURL()+target, nil)
	if err != nil {
		return nil, nil
	}
	resp, err := httpc.Do(req)
	if err != nil {
		return nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// fill makes count writes under /s/fill from a few clients.
func (g *goldenRun) fill(count int) {
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 8}}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < count; i += 8 {
				if _, err := putKey(hc, g.n.ClientURL(), fmt.Sprintf("/s/fill/%d", i), url.Values{"value": {"f"}}); err != nil {
					errs <- err
					return
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		g.t.Fatalf("fill: %v", err)
	}
}

var (
	expirationRE = regexp.MustCompile(`"expiration":"[0-9T:.\-+Z]+"`)
	ttlRE        = regexp.MustCompile(`"ttl":(\d+)`)
	hexRE        = regexp.MustCompile(`^[0-9a-f]{1,16}$`)
	numRE        = regexp.MustCompile(`^\d+$`)
)

func (g *goldenRun) compare(s sample, resp *http.Response, body []byte) {
	t := g.t
	if resp.StatusCode != s.status {
		t.Errorf("status %d, want %d (body %q)", resp.StatusCode, s.status, body)
	}
	compareHeaders(t, s, resp, func(v string) string { return g.shift(v) })
	want := g.translate(string(s.body))
	got := string(body)

	switch {
	case strings.HasPrefix(s.target, "/v2/stats/store"):
		wantShape, gotShape := shapeOf(t, []byte(want)), shapeOf(t, body)
		if gotShape != wantShape || strings.HasSuffix(got, "\n") != strings.HasSuffix(want, "\n") {
			t.Errorf("body shape\n got %s %q\nwant %s %q", gotShape, got, wantShape, want)
		}
		return
	case s.target == "/version" && !procs.IsEtcd():
		// etcd's fields as etcd has them, plus Cairn's own version and cluster version.
		own := cairnVersionRE.FindString(got)
		rest := strings.Replace(got, own, "", 1)
		if own == "" || shapeOf(t, []byte(rest)) != shapeOf(t, []byte(want)) || strings.HasSuffix(got, "\n") {
			t.Errorf("body\n got %q\nwant the shape of %q plus a non-empty \"cairnserver\" and \"cairncluster\"", got, want)
		}
		return
	}

	// Remaining TTLs may be a second lower than recorded; expirations differ.
	wt, gt := ttlRE.FindAllStringSubmatch(want, -1), ttlRE.FindAllStringSubmatch(got, -1)
	if len(wt) == len(gt) {
		for i := range wt {
			w, _ := strconv.Atoi(wt[i][1])
			v, _ := strconv.Atoi(gt[i][1])
			if v < w-1 || v > w {
				t.Errorf("ttl %d, want %d (or one less)", v, w)
			}
		}
		want, got = ttlRE.ReplaceAllString(want, `"ttl":<ttl>`), ttlRE.ReplaceAllString(got, `"ttl":<ttl>`)
	}
	want = expirationRE.ReplaceAllString(want, `"expiration":"<time>"`)
	got = expirationRE.ReplaceAllString(got, `"expiration":"<time>"`)

	if s.method == http.MethodGet && strings.HasPrefix(s.target, "/v2/keys") && !strings.Contains(s.target, "sorted=true") &&
		strings.Contains(want, `"nodes":[`) {
		want, got = canonicalListing(t, want, got)
	}
	if got != want {
		t.Errorf("body\n got %q\nwant %q", got, want)
	}
}

// canonicalListing sorts children in both bodies, after checking that the
// actual body re-renders to itself (so sorting hides no formatting).
func canonicalListing(t *testing.T, want, got string) (string, string) {
	t.Helper()
	gv, err := parseJSON([]byte(got))
	if err != nil {
		t.Errorf("body is not JSON: %v: %q", err, got)
		return want, got
	}
	wv, err := parseJSON([]byte(want))
	if err != nil {
		t.Fatalf("sample body is not JSON: %v", err)
	}
	if r := gv.String() + "\n"; r != got {
		t.Errorf("body is not in encoding/json's compact form:\n got %q\nre-rendered %q", got, r)
	}
	gv.sortNodes()
	wv.sortNodes()
	return wv.String() + "\n", gv.String() + "\n"
}

var cairnVersionRE = regexp.MustCompile(`,"cairnserver":"[^"]+","cairncluster":"[1-9][0-9]*"`)

func shapeOf(t *testing.T, b []byte) string {
	t.Helper()
	v, err := parseJSON(b)
	if err != nil {
		return fmt.Sprintf("not JSON (%v): %q", err, b)
	}
	return v.shape()
}

// compareHeaders checks the headers that clients rely on: exact values for
// Content-Type, CORS and Allow; X-Etcd-Index present exactly when the
// sample has it, with the shifted value; X-Raft-Index/Term and
// X-Etcd-Cluster-Id present exactly when the sample has them.
func compareHeaders(t *testing.T, s sample, resp *http.Response, shift func(string) string) {
	t.Helper()
	for _, h := range []string{"Content-Type", "Access-Control-Allow-Headers", "Access-Control-Allow-Methods",
		"Access-Control-Allow-Origin", "Allow", "X-Content-Type-Options"} {
		if got, want := resp.Header.Get(h), s.headers.Get(h); got != want {
			t.Errorf("header %s: %q, want %q", h, got, want)
		}
	}
	presence := func(h string, valid *regexp.Regexp) {
		_, want := s.headers[http.CanonicalHeaderKey(h)]
		got := resp.Header.Get(h)
		switch {
		case want && got == "":
			t.Errorf("header %s missing", h)
		case !want && got != "":
			t.Errorf("header %s: %q, want none", h, got)
		case want && !valid.MatchString(got):
			t.Errorf("header %s: %q is malformed", h, got)
		}
	}
	presence("X-Raft-Index", numRE)
	presence("X-Raft-Term", numRE)
	presence("X-Etcd-Cluster-Id", hexRE)
	presence("X-Etcd-Index", numRE)
	if want := s.headers.Get("X-Etcd-Index"); want != "" && shift != nil {
		if got := resp.Header.Get("X-Etcd-Index"); got != shift(want) {
			t.Errorf("X-Etcd-Index %s, want %s (sample %s)", got, shift(want), want)
		}
	}
	chunked := len(resp.TransferEncoding) == 1 && resp.TransferEncoding[0] == "chunked"
	if want := s.headers.Get("Transfer-Encoding") == "chunked"; want != chunked {
		t.Errorf("chunked=%v, want %v", chunked, want)
	}
}

// TestGoldenCluster compares the sections recorded on three members: the
// members list, leader and self stats, machines. Values differ (ids, URLs,
// counters), so bodies are compared by shape, plus the facts a client
// depends on.
func TestGoldenCluster(t *testing.T) {
	samples, err := parseSamples(samplesFile)
	if err != nil {
		t.Fatal(err)
	}
	c := procs.StartCluster(t, 3, procs.Options{})
	leader, err := c.WaitLeader(15 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	follower := c.Followers(leader)[0]
	seen := 0
	for _, s := range samples {
		if !clusterOnly[s.title] {
			continue
		}
		seen++
		t.Run(s.title, func(t *testing.T) {
			node := leader
			if strings.Contains(s.title, "follower") || strings.HasPrefix(s.title, "/v2/members/leader") {
				node = follower
			}
			target := s.target
			if target == "" {
				target = "/v2/members/leader"
			}
			resp, body := do(t, http.MethodGet, node.ClientURL()+target, nil)
			if resp.StatusCode != s.status {
				t.Errorf("status %d, want %d (%q)", resp.StatusCode, s.status, body)
			}
			compareHeaders(t, s, resp, nil)
			switch {
			case s.status != http.StatusOK:
				if string(body) != string(s.body) {
					t.Errorf("body %q, want %q", body, s.body)
				}
			case target == "/v2/machines":
				got := strings.Split(string(body), ", ")
				sort.Strings(got)
				want := c.ClientURLs()
				sort.Strings(want)
				if strings.Join(got, ",") != strings.Join(want, ",") {
					t.Errorf("machines %q, want %v joined by \", \"", body, want)
				}
			default:
				if got, want := shapeOf(t, body), shapeOf(t, s.body); got != want {
					t.Errorf("shape\n got %s\nwant %s\n body %q", got, want, body)
				}
				if strings.HasSuffix(string(body), "\n") != strings.HasSuffix(string(s.body), "\n") {
					t.Errorf("trailing newline: body %q, sample %q", body, s.body)
				}
				if strings.HasPrefix(target, "/v2/stats/self") {
					wantState := "StateFollower"
					if node == leader {
						wantState = "StateLeader"
					}
					if !strings.Contains(string(body), `"state":"`+wantState+`"`) {
						t.Errorf("stats/self on %s: %s", node.Name, body)
					}
				}
				if target == "/v2/members/leader" && !strings.Contains(string(body), `"name":"`+leader.Name+`"`) {
					t.Errorf("members/leader on a follower names %s, leader is %s", body, leader.Name)
				}
			}
		})
	}
	if seen != len(clusterOnly) {
		t.Errorf("found %d of %d cluster sections in the samples", seen, len(clusterOnly))
	}
}
