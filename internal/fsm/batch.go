package fsm

import (
	"encoding/binary"
	"fmt"
)

// A batch entry carries several key commands in one raft log entry:
//
//	CmdBatch | encodingVersion | flags 0 | count (uvarint) | each: uvarint length + Marshal bytes
//
// The leader folds the writes that arrive while earlier ones are being replicated into one entry,
// so that raft's per-entry work (its log record, its msgpack encoding for every follower, its
// future) is paid once per batch instead of once per write. Each command keeps its own leader
// time and its own store index; the entry's raft index is shared, which only ever matters to
// read-index waits, and those wait for the whole entry.
const (
	// MaxBatchCommands bounds the commands of one batch entry.
	MaxBatchCommands = 256
	// MaxBatchBytes bounds the commands' bytes in one batch entry (a single larger command is
	// proposed on its own), so one entry never holds more than a few values' worth of memory.
	MaxBatchBytes = 256 << 10
)

// Batchable says whether c may be proposed inside a batch entry: the key writes, whose results
// depend on nothing but the store. Member, auth and level commands stay entries of their own, so
// that each has an index to itself.
func (c *Command) Batchable() bool {
	return (c.Type == CmdPut || c.Type == CmdPost || c.Type == CmdDelete) && c.Member == nil
}

// BatchResult is what Apply returns for a batch entry: one Result per command, in order, or Err
// (wrapping ErrMalformed) when the entry was refused whole, in which case no command was applied.
type BatchResult struct {
	Results []Result
	Err     error
}

// MarshalBatch encodes commands, each already encoded by Marshal, as one batch entry. It does not
// check them: the leader builds batches only of commands it has just encoded itself.
func MarshalBatch(cmds [][]byte) []byte {
	n := 3 + binary.MaxVarintLen64
	for _, c := range cmds {
		n += binary.MaxVarintLen64 + len(c)
	}
	b := make([]byte, 0, n)
	b = append(b, byte(CmdBatch), encodingVersion, 0)
	b = binary.AppendUvarint(b, uint64(len(cmds)))
	for _, c := range cmds {
		b = binary.AppendUvarint(b, uint64(len(c)))
		b = append(b, c...)
	}
	return b
}

// isBatch says whether a log entry's data is a batch entry.
func isBatch(data []byte) bool { return len(data) > 0 && CommandType(data[0]) == CmdBatch }

// unmarshalBatch decodes every command of a batch entry, refusing the whole entry if any part of
// it is malformed or not batchable, so that a bad entry never applies half.
func unmarshalBatch(b []byte) ([]Command, error) {
	if len(b) < 3 {
		return nil, fmt.Errorf("%w: batch of %d bytes", ErrMalformed, len(b))
	}
	if b[1] != encodingVersion {
		return nil, fmt.Errorf("%w: unknown batch encoding version %d", ErrMalformed, b[1])
	}
	if b[2] != 0 {
		return nil, fmt.Errorf("%w: batch flags %#x", ErrMalformed, b[2])
	}
	d := decoder{b: b[3:]}
	n := d.uvarint()
	switch {
	case d.err != nil:
		return nil, d.err
	case n == 0 || n > MaxBatchCommands:
		return nil, fmt.Errorf("%w: batch of %d commands", ErrMalformed, n)
	}
	cmds := make([]Command, n)
	for i := range cmds {
		size := d.uvarint()
		if d.err == nil && size > uint64(len(d.b)) {
			d.fail("batch command")
		}
		if d.err != nil {
			return nil, d.err
		}
		if err := cmds[i].unmarshal(d.b[:size]); err != nil {
			return nil, fmt.Errorf("batch command %d: %w", i, err)
		}
		if !cmds[i].Batchable() {
			return nil, fmt.Errorf("%w: batch command %d is a %v", ErrMalformed, i, cmds[i].Type)
		}
		d.b = d.b[size:]
	}
	if len(d.b) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes after the batch", ErrMalformed, len(d.b))
	}
	return cmds, nil
}

// applyBatch applies a batch entry's commands in order.
func (f *FSM) applyBatch(data []byte) *BatchResult {
	cmds, err := unmarshalBatch(data)
	if err != nil {
		return &BatchResult{Err: err}
	}
	res := &BatchResult{Results: make([]Result, len(cmds))}
	for i := range cmds {
		res.Results[i] = f.applyCommand(&cmds[i])
	}
	return res
}

// EntryWrites is how many writes a command entry holds: a batch entry's count, one for any other
// entry (a malformed batch included, which applies nothing but was still one proposal). raftnode
// counts writes with it for its snapshot thresholds, since a restart replays writes, not entries.
func (f *FSM) EntryWrites(data []byte) uint64 {
	if !isBatch(data) || len(data) < 3 {
		return 1
	}
	n, k := binary.Uvarint(data[3:])
	if k <= 0 || n == 0 || n > MaxBatchCommands {
		return 1
	}
	return n
}
