package quorum

import (
	"sync/atomic"

	"github.com/cairn-io/cairn/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Stats counts what the server did with the packets it received.
type Stats struct {
	Received        uint64 // every datagram read
	Answered        uint64 // replies sent
	Oversized       uint64 // larger than MaxPacketSize
	Garbage         uint64 // unparseable, or not a request
	BadVersion      uint64 // a protocol version this server does not speak
	BadMAC          uint64 // HMAC check failed (wrong key or tampered)
	Stale           uint64 // timestamp outside the window
	Replayed        uint64 // salt already seen within the window
	ReplayCacheFull uint64 // dropped because the replay cache was full
	SendErrors      uint64 // replies the socket refused
}

type dropReason int

const (
	dropOversized dropReason = iota
	dropGarbage
	dropVersion
	dropBadMAC
	dropStale
	dropReplayed
	dropCacheFull
	numDropReasons
)

var dropLabels = [numDropReasons]string{"oversized", "garbage", "version", "bad_hmac", "stale", "replayed", "replay_cache_full"}

type counters struct {
	received, answered, sendErrors atomic.Uint64
	drops                          [numDropReasons]atomic.Uint64

	promDrops    [numDropReasons]prometheus.Counter
	promReplies  *prometheus.CounterVec
	promReceived prometheus.Counter
}

func newCounters(reg prometheus.Registerer) (*counters, error) {
	c := &counters{}
	drops := metrics.NewQuorumDropped()
	c.promReplies = metrics.NewQuorumReplies()
	c.promReceived = metrics.NewQuorumReceived()
	for i, l := range dropLabels {
		c.promDrops[i] = drops.WithLabelValues(l)
	}
	if reg != nil {
		for _, col := range []prometheus.Collector{drops, c.promReplies, c.promReceived} {
			if err := reg.Register(col); err != nil {
				return nil, err
			}
		}
	}
	return c, nil
}

func (c *counters) drop(r dropReason) {
	c.drops[r].Add(1)
	c.promDrops[r].Inc()
}

func (c *counters) snapshot() Stats {
	return Stats{
		Received:        c.received.Load(),
		Answered:        c.answered.Load(),
		Oversized:       c.drops[dropOversized].Load(),
		Garbage:         c.drops[dropGarbage].Load(),
		BadVersion:      c.drops[dropVersion].Load(),
		BadMAC:          c.drops[dropBadMAC].Load(),
		Stale:           c.drops[dropStale].Load(),
		Replayed:        c.drops[dropReplayed].Load(),
		ReplayCacheFull: c.drops[dropCacheFull].Load(),
		SendErrors:      c.sendErrors.Load(),
	}
}
