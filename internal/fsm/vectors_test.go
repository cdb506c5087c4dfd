package fsm

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/store"
	"github.com/cairn-io/cairn/test/vectors"
)

// The raft log and snapshots outlive the build that wrote them: a member restarted on a new
// build replays its old log, and a mixed-version cluster ships entries and snapshots between
// builds. The vectors under testdata/vectors freeze today's bytes. A change that moves a byte
// fails here even when it is symmetric (encode and decode changed together, so every
// round-trip test still passes). A deliberate format change adds a new encoding version with
// new vectors and keeps these decoding.

func readVector(t *testing.T, name string, now []byte) []byte {
	t.Helper()
	return vectors.Read(t, name, now)
}

// commandVectors has one entry per command type, and one per flag and optional field.
var commandVectors = []struct {
	name string
	cmd  Command
}{
	{"cmd-put", Command{Type: CmdPut, Key: "/app/color", Value: "blue", Time: 1795834800000000000}},
	{"cmd-put-conditions", Command{Type: CmdPut, Key: "/app/color", Value: "red", PrevValue: "blue",
		PrevIndex: 300, PrevExist: boolp(true), TTL: 3600, Time: 1795834800123456789}},
	{"cmd-put-create-only", Command{Type: CmdPut, Key: "/lock", Value: "me", PrevExist: boolp(false), TTL: -1, Time: 1}},
	{"cmd-put-dir-refresh", Command{Type: CmdPut, Key: "/dir", Dir: true, Refresh: true, TTL: 30, Time: 1795834800000000000}},
	{"cmd-post", Command{Type: CmdPost, Key: "/queue", Value: "job", Time: 1795834800000000000}},
	{"cmd-delete", Command{Type: CmdDelete, Key: "/app/color", PrevValue: "red", PrevIndex: 301, Time: 1795834800000000000}},
	{"cmd-delete-recursive", Command{Type: CmdDelete, Key: "/app", Dir: true, Recursive: true, Time: 1795834800000000000}},
	{"cmd-expire", Command{Type: CmdExpire, Time: 1795834860000000000}},
	{"cmd-member-set", Command{Type: CmdMemberSet, Member: &Member{ID: 0x8e9e05c52164694d, Name: "n1",
		PeerURLs: []string{"http://10.0.0.1:2380"}, ClientURLs: []string{"http://10.0.0.1:2379", "https://n1:2379"},
		AlternateClientURLs: []string{"http://192.168.0.1:2379"}, Rack: 3}}},
	{"cmd-member-set-flags", Command{Type: CmdMemberSet, Member: &Member{ID: 7, Name: "n4",
		PeerURLs: []string{"http://10.0.0.4:2380"}, Rack: -1, Learner: true, Evacuated: true}}},
	{"cmd-member-set-quorum-port", Command{Type: CmdMemberSet, Member: &Member{ID: 9, Name: "n5",
		PeerURLs: []string{"http://10.0.0.5:2380"}, ClientURLs: []string{"http://10.0.0.5:2379"}, QuorumPort: 2381}}},
	{"cmd-member-remove", Command{Type: CmdMemberRemove, Member: &Member{ID: 0x8e9e05c52164694d}}},
	{"cmd-noop", Command{Type: CmdNoop}},
	// The auth command's payload is auth.Command's own encoding, frozen op by op in internal/auth.
	{"cmd-auth", Command{Type: CmdAuth, Value: "\x01" + `{"op":6,"name":"alice"}`, Time: 1795834800000000000}},
	{"cmd-cluster-version", Command{Type: CmdClusterVersion, Value: "2", Time: 1795834800000000000}},
}

func TestCommandVectors(t *testing.T) {
	seen := map[CommandType]bool{}
	for _, v := range commandVectors {
		t.Run(v.name, func(t *testing.T) {
			enc := v.cmd.Marshal()
			frozen := readVector(t, v.name, enc)
			got, err := Unmarshal(frozen)
			if err != nil {
				t.Fatalf("today's code refuses the frozen bytes: %v", err)
			}
			if !reflect.DeepEqual(*got, v.cmd) {
				t.Fatalf("frozen bytes decode to\n%+v\nwant\n%+v", *got, v.cmd)
			}
			if !bytes.Equal(enc, frozen) {
				t.Fatalf("encoding changed:\nnow\n%sfrozen\n%s", hex.Dump(enc), hex.Dump(frozen))
			}
		})
		seen[v.cmd.Type] = true
	}
	seen[CmdBatch] = true // TestBatchVector
	for ct := CommandType(0); ct < 255; ct++ {
		if ct.valid() && !seen[ct] {
			t.Errorf("command type %v has no frozen vector", ct)
		}
	}
}

// snapshotVector is an FSM snapshot of a small state. Directories hold one child each and the
// member table one member: the store and the member table are maps, and the encoder writes
// them in map order, so only such a state has exactly one encoding to compare against.
func snapshotVector(t testing.TB) *harness {
	h := newHarness(t)
	h.mustApply(Command{Type: CmdMemberSet, Member: &Member{ID: 0x8e9e05c52164694d, Name: "n1",
		PeerURLs: []string{"http://10.0.0.1:2380"}, ClientURLs: []string{"http://10.0.0.1:2379"}, Rack: 2}})
	h.mustApply(at(0, Command{Type: CmdPut, Key: "/app/db", Dir: true, TTL: 600}))
	h.mustApply(at(time.Second, Command{Type: CmdPut, Key: "/app/db/url", Value: "postgres://db:5432"}))
	h.mustApply(at(2*time.Second, Command{Type: CmdPut, Key: "/app/db/url", Value: "postgres://db2:5432", PrevValue: "postgres://db:5432"}))
	return h
}

// snapshotState is what a restored FSM must show for the snapshot vector.
const snapshotState = `{"applied":4,"index":3,"members":[{"ID":10276657743932975437,"Name":"n1",` +
	`"PeerURLs":["http://10.0.0.1:2380"],"ClientURLs":["http://10.0.0.1:2379"],"AlternateClientURLs":null,` +
	`"Rack":2,"Learner":false,"Evacuated":false}],"tree":{"dir":true,"nodes":[{"key":"/app","dir":true,` +
	`"nodes":[{"key":"/app/db","dir":true,"expiration":"2026-11-22T03:10:00Z","ttl":600,"nodes":[{"key":"/app/db/url",` +
	`"value":"postgres://db2:5432","modifiedIndex":3,"createdIndex":2}],"modifiedIndex":1,"createdIndex":1}],` +
	`"modifiedIndex":1,"createdIndex":1}]}}`

func observed(t *testing.T, f *FSM) string {
	t.Helper()
	ev, err := f.Store().Get("/", true, true, t0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(struct {
		Applied uint64            `json:"applied"`
		Index   uint64            `json:"index"`
		Members []Member          `json:"members"`
		Tree    *store.NodeExtern `json:"tree"`
	}{f.AppliedIndex(), f.Store().Index(), f.Members(), ev.Node})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// restoreFrozen restores the frozen snapshot vector name into a new FSM, which must show want
// and write the same bytes again.
func restoreFrozen(t *testing.T, name string, frozen []byte, want string) *harness {
	t.Helper()
	restored := newHarness(t)
	if err := restored.f.Restore(io.NopCloser(bytes.NewReader(frozen))); err != nil {
		t.Fatalf("today's code refuses the frozen %s: %v", name, err)
	}
	if got := observed(t, restored.f); got != want {
		t.Fatalf("frozen %s restores to\n%s\nwant\n%s", name, got, want)
	}
	if now := snapshotBytes(t, restored.f); !bytes.Equal(now, frozen) {
		t.Fatalf("%s encoding changed:\nnow\n%sfrozen\n%s", name, hex.Dump(now), hex.Dump(frozen))
	}
	return restored
}

func snapshotBytes(t *testing.T, f *FSM) []byte {
	t.Helper()
	ss, id := persist(t, f)
	_, rc, err := ss.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSnapshotVector: today's snapshots (version 2, with the auth state) encode to the frozen
// bytes, and the first version (before auth, and before the store kept its event history)
// still restores to the same keys and members. A cluster still at LevelBaseline writes that
// first version, byte for byte as the builds before cluster versions wrote it, so that they
// can restore it.
func TestSnapshotVector(t *testing.T) {
	src := snapshotVector(t)
	if got := observed(t, src.f); got != snapshotState {
		t.Fatalf("the vector's state is not what the test expects:\n%s", got)
	}
	v1 := readVector(t, "snapshot", nil)
	if src.f.ClusterLevel() != LevelBaseline {
		t.Fatalf("cluster level %v before any auth command", src.f.ClusterLevel())
	}
	if now := snapshotBytes(t, src.f); !bytes.Equal(now, v1) {
		t.Fatalf("a baseline-level cluster's snapshot is not version 1:\nnow\n%sfrozen version 1\n%s", hex.Dump(now), hex.Dump(v1))
	}
	src.mustApply(authCmd(t, auth.Command{Op: auth.OpCreateRole, Name: "app", Perms: auth.Permissions{Read: []string{"/app/*"}}}))
	withAuth := strings.Replace(snapshotState, `"applied":4`, `"applied":5`, 1)
	frozen := readVector(t, "snapshot-v2", snapshotBytes(t, src.f))

	restored := restoreFrozen(t, "snapshot-v2", frozen, withAuth)
	if !restored.f.AuthState().Equal(src.f.AuthState()) {
		t.Fatal("frozen snapshot restores another auth state")
	}
	if restored.f.ClusterLevel() != LevelAuth {
		t.Fatalf("a version 2 snapshot restores cluster level %v", restored.f.ClusterLevel())
	}

	// From LevelBatch on, snapshots are version 3 and carry the level, which a restore takes.
	src.mustApply(*ClusterVersionCommand(LevelBatch))
	withLevel := strings.Replace(snapshotState, `"applied":4`, `"applied":6`, 1)
	restored3 := restoreFrozen(t, "snapshot-v3", readVector(t, "snapshot-v3", snapshotBytes(t, src.f)), withLevel)
	if restored3.f.ClusterLevel() != LevelBatch || !restored3.f.AuthState().Equal(src.f.AuthState()) {
		t.Fatalf("a version 3 snapshot restores level %v (want %v), or another auth state", restored3.f.ClusterLevel(), LevelBatch)
	}

	old := newHarness(t)
	if err := old.f.Restore(io.NopCloser(bytes.NewReader(v1))); err != nil {
		t.Fatalf("today's code refuses a version 1 snapshot: %v", err)
	}
	if got := observed(t, old.f); got != snapshotState {
		t.Fatalf("version 1 snapshot restores to\n%s\nwant\n%s", got, snapshotState)
	}
}
