package fsm

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/cairn-io/cairn/internal/store"
)

// replayLog is what a member replays after a burst: sets of 256-byte values
// on distinct keys, 1,000 per directory, as cairn-bench loads them.
func replayLog(n int) []*raft.Log {
	logs := make([]*raft.Log, n)
	value := strings.Repeat("v", 256)
	for i := range logs {
		c := Command{Type: CmdPut, Key: fmt.Sprintf("/load/d%04d/key%08d", i/1000, i), Value: value, Time: t0.UnixNano()}
		logs[i] = &raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: c.Marshal()}
	}
	return logs
}

// BenchmarkReplay is the cost per entry of applying a log after a restart,
// one entry at a time (raft without BatchingFSM) and in raft's batches of
// up to 128 (maxAppendEntries).
func BenchmarkReplay(b *testing.B) {
	const n = 20000
	logs := replayLog(n)
	b.Run("one-by-one", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i += n {
			b.StopTimer()
			f := New(store.New())
			b.StartTimer()
			for _, l := range logs[:min(n, b.N-i)] {
				f.Apply(l)
			}
		}
	})
	b.Run("batch-128", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i += n {
			b.StopTimer()
			f := New(store.New())
			b.StartTimer()
			todo := logs[:min(n, b.N-i)]
			for len(todo) > 0 {
				k := min(128, len(todo))
				f.ApplyBatch(todo[:k])
				todo = todo[k:]
			}
		}
	})
}
