package httpapi

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

type metrics struct {
	latency  *prometheus.HistogramVec
	watchers prometheus.Gauge
	// Resolved once: a label lookup per request costs a hash and a lock on the hot path.
	byKind map[string]prometheus.Observer
}

// newMetrics registers the HTTP layer's metrics on reg; a nil reg keeps them unregistered so
// several in-process nodes in a test do not collide.
func newMetrics(reg *prometheus.Registry, b Backend) *metrics {
	m := &metrics{
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Namespace: "cairn", Subsystem: "http", Name: "request_duration_seconds",
			Help:    "Latency of keys requests, by kind (get, write).",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"kind"}),
		watchers: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: "cairn", Subsystem: "http", Name: "watchers",
			Help: "Watch requests currently held open.",
		}),
	}
	if reg != nil {
		reg.MustRegister(m.latency, m.watchers)
	}
	m.byKind = map[string]prometheus.Observer{
		"get":   m.latency.WithLabelValues("get"),
		"write": m.latency.WithLabelValues("write"),
	}
	return m
}

func (m *metrics) observe(kind string, start time.Time) {
	o, ok := m.byKind[kind]
	if !ok {
		o = m.latency.WithLabelValues(kind)
	}
	o.Observe(time.Since(start).Seconds())
}
