package fsm

import (
	"errors"
	"fmt"
	"strconv"
)

// Level is a cluster version: what a member can apply, as one number that rises by one with
// each build that adds a command type or a snapshot format. The cluster's level is the lowest
// its members publish; a command of a higher level is never proposed, and snapshots are written
// in the format of the cluster's level, so that no member ever meets an entry or a snapshot it
// cannot read (etcd gates features on its cluster version the same way).
type Level uint8

const (
	// LevelBaseline is the level of a member that publishes none: the builds before cluster
	// versions existed (commit 3c407bf and earlier). It applies the command types put to noop
	// and reads version 1 snapshots (with store snapshots of version 1, without event history).
	LevelBaseline Level = 1
	// LevelAuth adds CmdAuth and CmdClusterVersion, version 2 snapshots (the auth state, and
	// the store's event history), and member entries that carry a quorum port.
	LevelAuth Level = 2
	// LevelBatch adds CmdBatch (batch.go) and version 3 snapshots, which carry the level.
	LevelBatch Level = 3

	// CurrentLevel is this build's level: everything above is unknown to it.
	CurrentLevel = LevelBatch
)

// String renders the level as /version's "cairncluster" shows it.
func (l Level) String() string { return strconv.Itoa(int(l)) }

// ParseLevel reads a level written by String.
func ParseLevel(s string) (Level, error) {
	n, err := strconv.ParseUint(s, 10, 8)
	if err != nil || n == 0 || strconv.FormatUint(n, 10) != s {
		return 0, fmt.Errorf("fsm: bad cluster level %q", s)
	}
	return Level(n), nil
}

// Level is the lowest cluster level at which every member can apply a command of type t.
func (t CommandType) Level() Level {
	switch t {
	case CmdAuth, CmdClusterVersion:
		return LevelAuth
	case CmdBatch:
		return LevelBatch
	}
	return LevelBaseline
}

// QuorumPortLevel is the level from which a member entry may carry a quorum port: the member
// flag that announces it is unknown to baseline builds, which refuse the whole entry.
const QuorumPortLevel = LevelAuth

// Level is the lowest cluster level at which every member can apply c as it encodes: its
// type's, or higher when its encoding uses something newer than the type.
func (c *Command) Level() Level {
	l := c.Type.Level()
	if c.Member != nil && c.Member.QuorumPort != 0 {
		l = max(l, QuorumPortLevel)
	}
	return l
}

// ErrUnknownLevel is the Result error of a CmdClusterVersion that names a level above this
// build's: the entry changes nothing here. A member of such a build has been left behind by an
// upgrade it was supposed to be part of.
var ErrUnknownLevel = errors.New("fsm: cluster level above this build's")

// ClusterVersionCommand raises the cluster's level to l; the leader proposes it once every
// member has published l or higher.
func ClusterVersionCommand(l Level) *Command {
	return &Command{Type: CmdClusterVersion, Value: l.String()}
}

// ClusterLevel is the cluster's level as of the last applied entry: it only ever rises, through
// CmdClusterVersion, a CmdAuth (a log that holds one was written at LevelAuth or by a build
// before the gate, whose members all applied it) or a snapshot of a higher format.
func (f *FSM) ClusterLevel() Level { return Level(f.level.Load()) }

// raiseLevel runs on the apply goroutine only.
func (f *FSM) raiseLevel(l Level) {
	if l > f.ClusterLevel() {
		f.level.Store(uint32(l))
	}
}

func (f *FSM) applyClusterVersion(c *Command) Result {
	l, err := ParseLevel(c.Value)
	if err != nil {
		return Result{Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	if l > CurrentLevel {
		return Result{Err: fmt.Errorf("%w: %v, this build knows %v", ErrUnknownLevel, l, CurrentLevel)}
	}
	f.raiseLevel(l)
	return Result{}
}
