package raftnode

import (
	"errors"

	"github.com/hashicorp/go-hclog"
	wal "github.com/hashicorp/raft-wal"
	"github.com/hashicorp/raft-wal/metadb"
)

// walStore is raft's log and stable store. raft-wal's Close leaves its metadata database open
// (and its file locked, so a restart in the same process would wait forever); closing that is
// ours to do.
type walStore struct {
	*wal.WAL
	meta *metadb.BoltMetaDB
}

// openWAL opens the log; segmentSize 0 keeps raft-wal's default (64 MiB). Compaction drops
// whole segments only: entries of the current segment stay readable below the first index,
// and a lagging follower is sent them rather than a snapshot.
func openWAL(dir string, log hclog.Logger, segmentSize int) (*walStore, error) {
	meta := &metadb.BoltMetaDB{}
	var w *wal.WAL
	var err error
	if segmentSize > 0 {
		w, err = wal.Open(dir, wal.WithMetaStore(meta), wal.WithLogger(log), wal.WithSegmentSize(segmentSize))
	} else {
		w, err = wal.Open(dir, wal.WithMetaStore(meta), wal.WithLogger(log))
	}
	if err != nil {
		_ = meta.Close()
		return nil, err
	}
	return &walStore{WAL: w, meta: meta}, nil
}

// Close waits for writes to finish, closes the segments, then the metadata.
func (s *walStore) Close() error {
	return errors.Join(s.WAL.Close(), s.meta.Close())
}
