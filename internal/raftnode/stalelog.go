package raftnode

import (
	"log/slog"

	"github.com/hashicorp/raft"
)

// dropLogBehindSnapshot removes a log that lies wholly below the latest snapshot. A follower
// is left with one when it installed a leader's snapshot and raft compacted its log instead of
// dropping it: builds whose log store hid raft-wal's IsMonotonic did so (the baseline of a
// rolling upgrade among them). Every such entry is covered by the snapshot, and raft-wal
// refuses any append that does not follow its last entry, so kept, the log would stop the
// member from ever catching up again. raft's own log never ends below its snapshot otherwise:
// a member snapshots only what it applied from its log.
func dropLogBehindSnapshot(logs raft.LogStore, snapshotIndex uint64, log *slog.Logger) error {
	last, err := logs.LastIndex()
	if err != nil || last == 0 || last >= snapshotIndex {
		return err
	}
	first, err := logs.FirstIndex()
	if err != nil {
		return err
	}
	log.Warn("dropping raft log entries that the latest snapshot covers, left by an earlier snapshot install",
		"first", first, "last", last, "snapshot_index", snapshotIndex)
	return logs.DeleteRange(first, last)
}
