package raftnode

import (
	"io"
	"log/slog"
	"testing"

	"github.com/hashicorp/raft"
)

func storeLogs(t *testing.T, s raft.LogStore, from, to uint64) error {
	t.Helper()
	var logs []*raft.Log
	for i := from; i <= to; i++ {
		logs = append(logs, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: []byte("x")})
	}
	return s.StoreLogs(logs)
}

// A log wholly below the latest snapshot (entries 1-3, snapshot at 100) is dropped, so that
// the entries after the snapshot can be appended; raft-wal refuses them otherwise. A log that
// reaches the snapshot is left alone.
func TestDropLogBehindSnapshot(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, tc := range []struct {
		name     string
		last     uint64
		snapshot uint64
		dropped  bool
	}{
		{"behind the snapshot", 3, 100, true},
		{"up to the snapshot", 100, 100, false},
		{"past the snapshot", 120, 100, false},
		{"no snapshot", 3, 0, false},
		{"empty", 0, 100, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := openWAL(t.TempDir(), newHCLog(quiet, "wal"), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer w.Close()
			if tc.last > 0 {
				if err := storeLogs(t, w, 1, tc.last); err != nil {
					t.Fatal(err)
				}
			}
			if tc.dropped {
				// What a member left like this meets without the repair.
				if err := storeLogs(t, w, tc.snapshot+1, tc.snapshot+1); err == nil {
					t.Fatal("raft-wal took an append past a gap: the repair would test nothing")
				}
			}
			if err := dropLogBehindSnapshot(w, tc.snapshot, quiet); err != nil {
				t.Fatal(err)
			}
			last, err := w.LastIndex()
			if err != nil {
				t.Fatal(err)
			}
			if tc.dropped {
				if err := storeLogs(t, w, tc.snapshot+1, tc.snapshot+2); err != nil {
					t.Fatalf("append after the snapshot: %v", err)
				}
				return
			}
			if last != tc.last {
				t.Fatalf("last index %d, want %d kept", last, tc.last)
			}
		})
	}
}
