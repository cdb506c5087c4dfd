package httpapi

import (
	"errors"
	"net/http"
	"strings"

	"github.com/cairn-io/cairn/internal/ui"
)

// errRootNeeded is why a request that needs the root role was refused (logged, never sent).
var errRootNeeded = errors.New("root role needed")

// uiAPIRoot is what the dashboard's keys route adds in front of /v2/keys.
var uiAPIRoot = strings.TrimSuffix(ui.APIPrefix, "/")

// isUIKeys reports whether p is the dashboard's keys route.
func isUIKeys(p string) bool {
	return p == ui.KeysPrefix || strings.HasPrefix(p, ui.KeysPrefix+"/")
}

// isUIFile reports whether p is one of the dashboard's own files (or /ui itself). They are
// served even before this member is ready, so that an operator can look at a member that
// cannot reach its cluster.
func isUIFile(p string) bool {
	return (p == strings.TrimSuffix(ui.Prefix, "/") || strings.HasPrefix(p, ui.Prefix)) && !isUIKeys(p)
}

// serveUI routes /ui and everything below it: the dashboard's keys route, then its files.
func (h *Handler) serveUI(w http.ResponseWriter, r *http.Request) {
	if isUIKeys(r.URL.Path) {
		h.serveUIKeys(w, r)
		return
	}
	h.ui.ServeHTTP(w, r)
}

// serveUIKeys is /v2/keys for the dashboard with one more rule: every write made there needs
// the root role (issue 12), whatever the user's grants on the key, because the page offers
// every change on every key. Reads and watches keep the ordinary per-key checks. A refusal is
// etcd's code 110 and names neither the key, the value nor the user.
func (h *Handler) serveUIKeys(w http.ResponseWriter, r *http.Request) {
	w.Header()["X-Etcd-Cluster-Id"] = h.clusterID
	switch r.Method {
	case http.MethodPut, http.MethodPost, http.MethodDelete:
		// Other methods go on to serveKeys, which refuses them as /v2/keys does.
		if err := h.rootCheck(r); err != nil {
			h.writeKeysUnauthorized(w, err)
			return
		}
	}
	r2 := r.WithContext(r.Context())
	u := *r.URL
	u.Path = strings.TrimPrefix(u.Path, uiAPIRoot)
	if u.RawPath != "" {
		u.RawPath = strings.TrimPrefix(u.RawPath, uiAPIRoot)
	}
	r2.URL = &u
	h.serveKeys(w, r2)
}
