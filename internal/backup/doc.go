// Package backup owns Cairn's backup file: one state-machine snapshot (written through the FSM
// snapshot API, whatever its byte format) in a small envelope with a length and a SHA-256
// checksum, so that a truncated or altered file is refused before anything is restored from it.
//
// It must never reach into the FSM's own encoding: it only calls fsm's Snapshot, Persist and
// Restore, so the snapshot format can change under it.
package backup
