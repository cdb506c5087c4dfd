package metrics

import "github.com/prometheus/client_golang/prometheus"

// The quorum-query port's metrics (internal/quorum). The port registers them itself, on the
// registry its configuration names, only while it serves; they are declared here with the rest.

// NewQuorumReceived counts quorum-query packets received.
func NewQuorumReceived() prometheus.Counter {
	return prometheus.NewCounter(prometheus.CounterOpts{Namespace: "cairn", Subsystem: "quorum",
		Name: "received_packets_total", Help: "Quorum-query packets received."})
}

// NewQuorumDropped counts quorum-query packets dropped without a reply, by reason.
func NewQuorumDropped() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cairn", Subsystem: "quorum",
		Name: "dropped_packets_total", Help: "Quorum-query packets dropped without a reply, by reason."}, []string{"reason"})
}

// NewQuorumReplies counts quorum-query replies sent, by query type and status.
func NewQuorumReplies() *prometheus.CounterVec {
	return prometheus.NewCounterVec(prometheus.CounterOpts{Namespace: "cairn", Subsystem: "quorum",
		Name: "replies_total", Help: "Quorum-query replies sent, by query type and status."}, []string{"type", "status"})
}
