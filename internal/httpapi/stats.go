package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/version"
)

func (h *Handler) serveVersion(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	writeJSON(w, http.StatusOK, api.Version{Server: api.ServerVersion, Cluster: api.ClusterVersion, Cairn: version.String(),
		CairnCluster: h.b.ClusterLevel().String()}, false)
}

// serveHealth answers as etcd does: JSON in a text/plain body, 503 when unhealthy.
func (h *Handler) serveHealth(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.cfg.RequestTimeout)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := h.b.Health(ctx); err != nil {
		h.metrics.set.HealthFailures.Inc()
		h.log.Warn("health check failed", "err", err)
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(`{"health":"false"}`))
		return
	}
	h.metrics.set.HealthSuccess.Inc()
	_, _ = w.Write([]byte(`{"health":"true"}`))
}

func (h *Handler) serveMachines(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	var urls []string
	for _, m := range h.b.Members() {
		urls = append(urls, m.ClientURLs...)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte(strings.Join(urls, ", ")))
}

func (h *Handler) serveSelfStats(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	writeJSON(w, http.StatusOK, h.b.SelfStats(), false)
}

func (h *Handler) serveStoreStats(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	writeJSON(w, http.StatusOK, h.b.Store().Stats(), false)
}

// serveLeaderStats answers 403 on a follower, as etcd does.
func (h *Handler) serveLeaderStats(w http.ResponseWriter, r *http.Request) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	st, err := h.b.LeaderStats()
	if err != nil {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		b, _ := json.Marshal(struct {
			Message string `json:"message"`
		}{"not current leader"})
		_, _ = w.Write(b)
		return
	}
	writeJSON(w, http.StatusOK, st, false)
}
