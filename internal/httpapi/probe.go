package httpapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Probe paths, on the client port and on the metrics port (--listen-metrics-urls).
const (
	livezPath  = "/livez"
	readyzPath = "/readyz"
)

// livezTimeout bounds the local read of /livez: a store that cannot answer a local read in
// this time is stuck (a deadlock, a lost goroutine), not busy.
const livezTimeout = 2 * time.Second

var (
	errNotPublished = errors.New("this member's entry is not committed yet")
	errNoLeader     = errors.New("no leader")
	errLocalRead    = errors.New("local read did not complete")
)

// probeState is what /readyz remembers between calls: once this member has applied what the
// cluster had committed when it first asked (a read barrier), it has caught up with the state
// it started behind, and from then on readiness only needs a leader.
type probeState struct {
	caughtUp atomic.Bool
}

// probeCheck is one named line of a probe's answer.
type probeCheck struct {
	name string
	run  func(ctx context.Context) error
}

func (h *Handler) livezChecks() []probeCheck {
	return []probeCheck{{"serializable_read", h.checkLocalRead}}
}

func (h *Handler) readyzChecks() []probeCheck {
	return []probeCheck{
		{"published", h.checkPublished},
		{"leader", h.checkLeader},
		{"caught_up", h.checkCaughtUp},
	}
}

func (h *Handler) checkLocalRead(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, livezTimeout)
	defer cancel()
	done := make(chan struct{})
	go func() {
		_ = h.b.Store().Index()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return errLocalRead
	}
}

func (h *Handler) checkPublished(context.Context) error {
	select {
	case <-h.b.Ready():
		return nil
	default:
		return errNotPublished
	}
}

func (h *Handler) checkLeader(context.Context) error {
	if _, ok := h.b.Leader(); !ok {
		return errNoLeader
	}
	return nil
}

// checkCaughtUp passes once a read barrier has completed here: the member has then applied at
// least the commit index the cluster had when the member first asked, so it serves no state
// older than what it restarted behind.
func (h *Handler) checkCaughtUp(ctx context.Context) error {
	if h.probe.caughtUp.Load() {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.RequestTimeout)
	defer cancel()
	if err := h.b.ReadBarrier(ctx); err != nil {
		return err
	}
	h.probe.caughtUp.Store(true)
	return nil
}

func (h *Handler) serveLivez(w http.ResponseWriter, r *http.Request) {
	h.serveProbe(w, r, "livez", h.livezChecks())
}

func (h *Handler) serveReadyz(w http.ResponseWriter, r *http.Request) {
	h.serveProbe(w, r, "readyz", h.readyzChecks())
}

// serveProbe answers in the Kubernetes probe format etcd also uses: "ok" and 200 when every
// check passes; else 503 with one "[-]name failed: reason" line per failing check. ?verbose
// lists the passing checks too ("[+]name ok"). Checks after the first failure are not run:
// their answers would depend on the one that failed.
func (h *Handler) serveProbe(w http.ResponseWriter, r *http.Request, probe string, checks []probeCheck) {
	if !allowMethods(w, r, http.MethodGet, http.MethodHead) {
		return
	}
	_, verbose := r.URL.Query()["verbose"]
	var b strings.Builder
	failed := false
	for _, c := range checks {
		if failed {
			b.WriteString("[-]" + c.name + " skipped\n")
			continue
		}
		if err := c.run(r.Context()); err != nil {
			failed = true
			b.WriteString("[-]" + c.name + " failed: " + err.Error() + "\n")
			continue
		}
		b.WriteString("[+]" + c.name + " ok\n")
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if failed {
		h.log.Debug(probe+" check failed", "checks", strings.TrimSpace(b.String()))
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(b.String() + probe + " check failed\n"))
		return
	}
	if verbose {
		_, _ = w.Write([]byte(b.String() + probe + " check passed\n"))
		return
	}
	_, _ = w.Write([]byte("ok"))
}

// MetricsHandler serves the metrics port (--listen-metrics-urls): /metrics, /health, /livez
// and /readyz in plain HTTP, for scrapers and probes that hold no client certificate. It
// shares the client handler's state (readiness, registry) and serves nothing else.
func (h *Handler) MetricsHandler() http.Handler {
	mux := http.NewServeMux()
	if h.cfg.Registry != nil {
		mux.Handle("/metrics", promhttp.HandlerFor(h.cfg.Registry, promhttp.HandlerOpts{}))
	}
	mux.HandleFunc("/health", func(w http.ResponseWriter, r *http.Request) {
		if h.checkPublished(r.Context()) != nil {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"health":"false"}`))
			return
		}
		h.serveHealth(w, r)
	})
	mux.HandleFunc(livezPath, h.serveLivez)
	mux.HandleFunc(readyzPath, h.serveReadyz)
	return mux
}
