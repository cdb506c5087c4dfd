package fsm

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/cairn-io/cairn/internal/auth"
)

func TestParseLevel(t *testing.T) {
	for l := LevelBaseline; l <= CurrentLevel; l++ {
		got, err := ParseLevel(l.String())
		if err != nil || got != l {
			t.Fatalf("ParseLevel(%q) = %v, %v", l.String(), got, err)
		}
	}
	for _, bad := range []string{"", "0", "02", "+2", "-1", "256", "two", "2 "} {
		if l, err := ParseLevel(bad); err == nil {
			t.Errorf("ParseLevel(%q) = %v, want an error", bad, l)
		}
	}
}

// Every command type a build knows has a level this build speaks; the ones that builds before
// cluster versions refuse have a level above theirs.
func TestCommandLevels(t *testing.T) {
	for ct := CommandType(0); ct < 255; ct++ {
		if !ct.valid() {
			continue
		}
		want := LevelBaseline
		switch ct {
		case CmdAuth, CmdClusterVersion:
			want = LevelAuth
		case CmdBatch:
			want = LevelBatch
		}
		if got := ct.Level(); got != want || got > CurrentLevel {
			t.Errorf("%v: level %v, want %v", ct, got, want)
		}
	}
}

func TestClusterVersionCommand(t *testing.T) {
	h := newHarness(t)
	if l := h.f.ClusterLevel(); l != LevelBaseline {
		t.Fatalf("a new FSM is at level %v", l)
	}
	h.mustApply(*ClusterVersionCommand(LevelAuth))
	if l := h.f.ClusterLevel(); l != LevelAuth {
		t.Fatalf("level %v after raising it to %v", l, LevelAuth)
	}
	// The level never falls back, whatever an entry says.
	h.mustApply(*ClusterVersionCommand(LevelBaseline))
	if l := h.f.ClusterLevel(); l != LevelAuth {
		t.Fatalf("level %v after an entry naming %v", l, LevelBaseline)
	}
	res := h.apply(*ClusterVersionCommand(CurrentLevel + 1))
	if !errors.Is(res.Err, ErrUnknownLevel) || h.f.ClusterLevel() != LevelAuth {
		t.Fatalf("a level above this build's: %v, level now %v", res.Err, h.f.ClusterLevel())
	}
	res = h.apply(Command{Type: CmdClusterVersion, Value: "two"})
	if !errors.Is(res.Err, ErrMalformed) {
		t.Fatalf("a malformed level: %v", res.Err)
	}
}

// A log that holds an auth command was written by a cluster at LevelAuth (or by a build before
// the gate): replaying it reaches that level, so the auth state it builds is snapshotted in a
// format that holds it.
func TestAuthCommandRaisesLevel(t *testing.T) {
	h := newHarness(t)
	h.mustApply(authCmd(t, auth.Command{Op: auth.OpCreateRole, Name: "app", Perms: auth.Permissions{Read: []string{"/app/*"}}}))
	if l := h.f.ClusterLevel(); l != LevelAuth {
		t.Fatalf("level %v after an auth command", l)
	}
}

// snapshotHeader is the FSM snapshot's version byte and the store snapshot's magic inside it.
func snapshotHeader(t *testing.T, f *FSM) (byte, string) {
	t.Helper()
	b := snapshotBytes(t, f)
	if len(b) < 9 || string(b[:8]) != snapshotMagic {
		t.Fatalf("not a snapshot: %q", b)
	}
	i := bytes.Index(b, []byte("CAIRNKV"))
	if i < 0 {
		t.Fatal("no store snapshot inside")
	}
	return b[8], string(b[i : i+8])
}

// The snapshot format follows the cluster's level: version 1, with a version 1 store inside,
// until the level rises; restoring each gives back the level it was written at.
func TestSnapshotFormatFollowsLevel(t *testing.T) {
	h := newHarness(t)
	h.mustApply(at(0, Command{Type: CmdPut, Key: "/k", Value: "v"}))
	if v, st := snapshotHeader(t, h.f); v != 1 || st != "CAIRNKV1" {
		t.Fatalf("at level %v: snapshot version %d with store %s, want 1 with CAIRNKV1", h.f.ClusterLevel(), v, st)
	}
	restored := newHarness(t)
	restored.mustApply(*ClusterVersionCommand(LevelAuth))
	ss, id := persist(t, h.f)
	_, rc, err := ss.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	if err := restored.f.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if l := restored.f.ClusterLevel(); l != LevelBaseline {
		t.Fatalf("a version 1 snapshot restores level %v", l)
	}

	h.mustApply(*ClusterVersionCommand(LevelAuth))
	if v, st := snapshotHeader(t, h.f); v != 2 || st != "CAIRNKV2" {
		t.Fatalf("at level %v: snapshot version %d with store %s, want 2 with CAIRNKV2", h.f.ClusterLevel(), v, st)
	}
	again := newHarness(t)
	if err := again.f.Restore(io.NopCloser(bytes.NewReader(snapshotBytes(t, h.f)))); err != nil {
		t.Fatal(err)
	}
	if l := again.f.ClusterLevel(); l != LevelAuth {
		t.Fatalf("a version 2 snapshot restores level %v", l)
	}
	if v, ok := again.value("/k"); !ok || v != "v" {
		t.Fatalf("/k = %q, %v after restore", v, ok)
	}
}
