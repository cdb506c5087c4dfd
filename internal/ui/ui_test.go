package ui

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string, hdr http.Header) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header[k] = v
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// Every embedded file is served with its fixed type, the dashboard's policy and nosniff.
func TestEveryFileServed(t *testing.T) {
	h := New()
	n := 0
	err := fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		n++
		name := strings.TrimPrefix(p, "static/")
		w := get(t, h, http.MethodGet, Prefix+name, nil)
		want, _ := static.ReadFile(p)
		if w.Code != 200 || w.Body.String() != string(want) {
			t.Errorf("%s: %d, %d bytes", name, w.Code, w.Body.Len())
		}
		ct := w.Header().Get("Content-Type")
		if ct == "" || ct != contentTypes[name[strings.LastIndex(name, "."):]] {
			t.Errorf("%s: Content-Type %q", name, ct)
		}
		if w.Header().Get("Content-Security-Policy") != ContentSecurityPolicy || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", name, w.Header())
		}
		return nil
	})
	if err != nil || n < 3 {
		t.Fatalf("walked %d files: %v", n, err)
	}
}

func TestRoutes(t *testing.T) {
	h := New()
	cases := []struct {
		method, path string
		status       int
		ctype        string
	}{
		{"GET", "/ui/", 200, "text/html; charset=utf-8"},
		{"HEAD", "/ui/", 200, "text/html; charset=utf-8"},
		{"GET", "/ui/index.html", 200, "text/html; charset=utf-8"},
		{"GET", "/ui/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/ui/style.css", 200, "text/css; charset=utf-8"},
		{"GET", "/ui", 301, ""},
		{"GET", "/ui/nope.js", 404, ""},
		{"GET", "/ui/../go.mod", 404, ""},
		{"POST", "/ui/", 405, ""},
	}
	for _, c := range cases {
		w := get(t, h, c.method, c.path, nil)
		if w.Code != c.status || (c.ctype != "" && w.Header().Get("Content-Type") != c.ctype) {
			t.Errorf("%s %s: %d %q", c.method, c.path, w.Code, w.Header().Get("Content-Type"))
		}
		if w.Header().Get("Content-Security-Policy") != ContentSecurityPolicy {
			t.Errorf("%s %s: no policy", c.method, c.path)
		}
	}
	if w := get(t, h, "GET", "/ui", nil); w.Header().Get("Location") != Prefix {
		t.Errorf("/ui redirects to %q", w.Header().Get("Location"))
	}
	// A browser that has the page revalidates it and gets 304.
	w := get(t, h, "GET", "/ui/app.js", nil)
	etag := w.Header().Get("ETag")
	if etag == "" || w.Header().Get("Cache-Control") != "no-cache" {
		t.Fatalf("app.js: ETag %q, Cache-Control %q", etag, w.Header().Get("Cache-Control"))
	}
	if w := get(t, h, "GET", "/ui/app.js", http.Header{"If-None-Match": {etag}}); w.Code != 304 {
		t.Errorf("revalidation: %d", w.Code)
	}
}

// The policy forbids inline code; the page must not rely on any, or the browser would drop it.
func TestNoInlineCode(t *testing.T) {
	page, err := static.ReadFile("static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(string(page), -1) {
		if !strings.Contains(tag, ` src="`) {
			t.Errorf("index.html: inline script %q", tag)
		}
	}
	for _, re := range []*regexp.Regexp{
		regexp.MustCompile(`<script[^>]*>[^<]`),                  // a script element with a body
		regexp.MustCompile(`(?i)\son[a-z]+\s*=`),                 // event handler attributes
		regexp.MustCompile(`(?i)\sstyle\s*=`),                    // style attributes
		regexp.MustCompile(`(?i)<style`),                         // style elements
		regexp.MustCompile(`(?i)javascript:`),                    // script URLs
		regexp.MustCompile(`(?i)(src|href)\s*=\s*"(https?:)?//`), // anything from elsewhere
	} {
		for _, m := range re.FindAllString(string(page), -1) {
			t.Errorf("index.html: %q matches %s", m, re)
		}
	}
	for _, name := range []string{"static/app.js", "static/style.css"} {
		b, _ := static.ReadFile(name)
		for _, bad := range []string{"eval(", "new Function", "innerHTML", "http://", "https://", "@import", "url("} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s uses %q", name, bad)
			}
		}
	}
}
