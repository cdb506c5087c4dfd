package raftnode

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// rateWindow is how far back /v2/stats/self's packet and bandwidth rates look.
const rateWindow = 10

// rateCounter counts events and bytes in one-second buckets over the last rateWindow seconds,
// so a rate reflects recent traffic rather than the average since start.
type rateCounter struct {
	total atomic.Uint64

	mu      sync.Mutex
	sec     [rateWindow]int64 // the unix second each bucket holds
	pkts    [rateWindow]float64
	byteCnt [rateWindow]float64
}

func (r *rateCounter) add(n int, bytes int, now time.Time) {
	r.total.Add(uint64(n))
	s := now.Unix()
	i := s % rateWindow
	r.mu.Lock()
	if r.sec[i] != s {
		r.sec[i], r.pkts[i], r.byteCnt[i] = s, 0, 0
	}
	r.pkts[i] += float64(n)
	r.byteCnt[i] += float64(bytes)
	r.mu.Unlock()
}

// rates are packets and bytes per second over the complete seconds of the window.
func (r *rateCounter) rates(now time.Time) (pkts, bytes float64) {
	cur := now.Unix()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := range r.sec {
		if s := r.sec[i]; s < cur && s >= cur-rateWindow {
			pkts += r.pkts[i]
			bytes += r.byteCnt[i]
		}
	}
	return pkts / rateWindow, bytes / rateWindow
}

// TrafficStats are the AppendEntries counts and recent rates of etcd's /v2/stats/self.
type TrafficStats struct {
	SendAppendRequests uint64
	RecvAppendRequests uint64
	SendPkgRate        float64 // requests per second sent, over the last 10 s
	SendBandwidthRate  float64 // bytes of entries per second sent
	RecvPkgRate        float64
	RecvBandwidthRate  float64
}

func entriesSize(args *raft.AppendEntriesRequest) int {
	n := 0
	for _, e := range args.Entries {
		n += len(e.Data)
	}
	return n
}

// relayConsumer hands raft the transport's incoming RPCs, counting AppendEntries on the way,
// until stop closes.
func relayConsumer(in <-chan raft.RPC, out chan<- raft.RPC, recv *rateCounter, stop <-chan struct{}) {
	for {
		select {
		case <-stop:
			return
		case rpc := <-in:
			if ae, ok := rpc.Command.(*raft.AppendEntriesRequest); ok {
				recv.add(1, entriesSize(ae), time.Now())
			}
			select {
			case out <- rpc:
			case <-stop:
				return
			}
		}
	}
}
