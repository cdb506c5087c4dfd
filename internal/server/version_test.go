package server

import (
	"errors"
	"slices"
	"testing"

	"github.com/cairn-io/cairn/internal/fsm"
)

// The cluster's level is the lowest any member publishes, a member that published none (a
// build before cluster versions, or one that did not answer) counting as the baseline.
func TestLowestLevel(t *testing.T) {
	ids := []uint64{1, 2, 3}
	cases := []struct {
		name      string
		published map[uint64]fsm.Level
		want      fsm.Level
		below     []uint64
	}{
		{"all current", map[uint64]fsm.Level{1: fsm.CurrentLevel, 2: fsm.CurrentLevel, 3: fsm.CurrentLevel}, fsm.CurrentLevel, nil},
		{"one of the baseline build", map[uint64]fsm.Level{1: fsm.CurrentLevel, 2: fsm.LevelBaseline, 3: fsm.CurrentLevel}, fsm.LevelBaseline, []uint64{2}},
		{"one silent", map[uint64]fsm.Level{1: fsm.CurrentLevel, 3: fsm.CurrentLevel}, fsm.LevelBaseline, []uint64{2}},
		{"none known", nil, fsm.LevelBaseline, []uint64{1, 2, 3}},
		{"a nonsense zero", map[uint64]fsm.Level{1: 0, 2: fsm.CurrentLevel, 3: fsm.CurrentLevel}, fsm.LevelBaseline, []uint64{1}},
		// A member of a later build speaks this one's level too: the cluster is at most at the
		// lowest build's.
		{"one of a later build", map[uint64]fsm.Level{1: fsm.CurrentLevel + 1, 2: fsm.CurrentLevel, 3: fsm.CurrentLevel}, fsm.CurrentLevel, nil},
		// A member that left the configuration does not hold the level down.
		{"a removed member", map[uint64]fsm.Level{1: fsm.CurrentLevel, 2: fsm.CurrentLevel, 3: fsm.CurrentLevel, 9: fsm.LevelBaseline}, fsm.CurrentLevel, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, below := lowestLevel(ids, c.published, fsm.CurrentLevel)
			if got != c.want || !slices.Equal(below, c.below) {
				t.Fatalf("lowestLevel = %v, below %v; want %v, below %v", got, below, c.want, c.below)
			}
		})
	}
}

// The gate: a command is admitted only when the cluster's level covers its type, and its
// encoding (a member entry with a quorum port).
func TestAdmit(t *testing.T) {
	for ct := fsm.CmdPut; ct <= fsm.CmdClusterVersion; ct++ {
		for l := fsm.LevelBaseline; l <= fsm.CurrentLevel; l++ {
			err := admit(&fsm.Command{Type: ct}, l)
			if ok := ct.Level() <= l; ok != (err == nil) {
				t.Errorf("admit(%v, level %v) = %v", ct, l, err)
			}
			if err != nil && !errors.Is(err, ErrClusterVersionTooLow) {
				t.Errorf("admit(%v, level %v) = %v, want ErrClusterVersionTooLow", ct, l, err)
			}
		}
	}
	if err := admit(&fsm.Command{Type: fsm.CmdAuth}, fsm.LevelBaseline); err == nil {
		t.Fatal("an auth command was admitted in a baseline cluster")
	}
	withPort := &fsm.Command{Type: fsm.CmdMemberSet, Member: &fsm.Member{ID: 1, QuorumPort: 2381}}
	if err := admit(withPort, fsm.LevelBaseline); !errors.Is(err, ErrClusterVersionTooLow) {
		t.Fatalf("a member entry with a quorum port in a baseline cluster: %v", err)
	}
	if err := admit(withPort, fsm.QuorumPortLevel); err != nil {
		t.Fatalf("a member entry with a quorum port at its level: %v", err)
	}
	for _, ct := range []fsm.CommandType{fsm.CmdPut, fsm.CmdPost, fsm.CmdDelete, fsm.CmdExpire, fsm.CmdMemberSet, fsm.CmdMemberRemove, fsm.CmdNoop} {
		if err := admit(&fsm.Command{Type: ct}, fsm.LevelBaseline); err != nil {
			t.Errorf("a baseline cluster refuses %v: %v", ct, err)
		}
	}
}
