package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

const (
	// Prefix is where the dashboard lives on the client port.
	Prefix = "/ui/"
	// APIPrefix is the dashboard's own route to the keys API: APIPrefix+"v2/keys/..." is
	// /v2/keys/... for reads and watches, and requires root for writes.
	APIPrefix = Prefix + "api/"
	// KeysPrefix is the keys API under APIPrefix.
	KeysPrefix = APIPrefix + "v2/keys"
)

// ContentSecurityPolicy allows nothing but the dashboard's own files and requests to the member
// that served them: no inline script or style, no eval, no frames, no form posts elsewhere.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed static
var static embed.FS

// contentTypes is fixed here rather than taken from the host's mime tables, which differ
// between machines and would change what browsers accept under nosniff.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

// Handler serves the embedded files below Prefix; Prefix itself is index.html.
type Handler struct {
	files map[string]file
}

// New loads the embedded files. A file whose type is not in contentTypes is not served; a test
// checks that every embedded file is.
func New() *Handler {
	h := &Handler{files: map[string]file{}}
	// The embedded tree is part of the binary: walking it cannot fail at run time.
	_ = fs.WalkDir(static, "static", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return nil
		}
		b, err := static.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		h.files[strings.TrimPrefix(p, "static/")] = file{body: b, contentType: ct,
			etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		return nil
	})
	return h
}

// ServeHTTP answers GET and HEAD for the embedded files; /ui redirects to /ui/.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "no-referrer")
	// The dashboard is same-origin only; the API's blanket CORS header does not apply to it.
	hd.Del("Access-Control-Allow-Origin")
	hd.Del("Access-Control-Allow-Headers")
	hd.Del("Access-Control-Allow-Methods")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		http.Error(w, "Method Not Allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	f, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	hd.Set("Content-Type", f.contentType)
	hd.Set("ETag", f.etag)
	// Revalidate every time: a new binary must not run against an old page's script.
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, name, time.Time{}, bytes.NewReader(f.body))
}
