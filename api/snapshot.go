package api

// SnapshotPath is where a member serves a backup of its state (GET, client port): a backup
// file (internal/backup's format) of the state machine at an index no older than the request.
const SnapshotPath = "/cairn/v1/snapshot"
