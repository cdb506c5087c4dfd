package fsm

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/cairn-io/cairn/internal/auth"
	"github.com/cairn-io/cairn/internal/store"
)

func authCmd(t *testing.T, c auth.Command) Command {
	t.Helper()
	cmd, err := AuthCommand(&c)
	if err != nil {
		t.Fatal(err)
	}
	return *cmd
}

func TestAuthCommandsChangeOnlyTheAuthState(t *testing.T) {
	h := newHarness(t)
	h.mustApply(Command{Type: CmdPut, Key: "/k", Value: "v"})
	keysBefore, _ := h.f.Store().Get("/", true, true, t0)

	res := h.mustApply(authCmd(t, auth.Command{Op: auth.OpCreateOrUpdateUser, Name: "root", Hash: "$2a$04$abcdefghijklmnopqrstuu5XlbSMM1ZxtXg9EZdXX.lPOn9aVKs7i"}))
	if !res.Auth.Created || res.Auth.User.Name != "root" || res.Auth.User.Revision != h.idx {
		t.Fatalf("result %+v, want root created at index %d", res.Auth, h.idx)
	}
	h.mustApply(authCmd(t, auth.Command{Op: auth.OpEnable, Key: []byte("key")}))
	if !h.f.AuthState().Enabled() {
		t.Fatal("auth not enabled")
	}
	// A refusal is the command's result on every replica and changes nothing.
	before := h.f.AuthState()
	r := h.apply(authCmd(t, auth.Command{Op: auth.OpEnable, Key: []byte("other")}))
	if !errors.Is(r.Err, auth.ErrAlreadyEnabled) || h.f.AuthState() != before {
		t.Fatalf("second enable: %v", r.Err)
	}
	// A payload that is no auth command is malformed, not a panic.
	r = h.apply(Command{Type: CmdAuth, Value: "\x01{nonsense"})
	if !errors.Is(r.Err, ErrMalformed) {
		t.Fatalf("bad payload: %v", r.Err)
	}
	// Users live outside the keyspace: no key appeared, no event was made.
	keysAfter, _ := h.f.Store().Get("/", true, true, t0)
	if !bytes.Equal(keysBefore.AppendJSON(nil), keysAfter.AppendJSON(nil)) {
		t.Fatalf("keyspace changed by auth commands:\n%s\n%s", keysBefore.AppendJSON(nil), keysAfter.AppendJSON(nil))
	}
	if ev, err := h.f.Store().Get("/", false, false, t0); err != nil || ev.EtcdIndex != keysBefore.EtcdIndex {
		t.Fatalf("etcd index moved: %v %v", ev, err)
	}
}

func TestAuthStateInSnapshots(t *testing.T) {
	a := newHarness(t)
	a.mustApply(authCmd(t, auth.Command{Op: auth.OpCreateOrUpdateUser, Name: "root", Hash: "h1"}))
	a.mustApply(authCmd(t, auth.Command{Op: auth.OpCreateRole, Name: "app", Perms: auth.Permissions{Read: []string{"/app/*"}}}))
	a.mustApply(authCmd(t, auth.Command{Op: auth.OpEnable, Key: []byte("signing")}))
	a.mustApply(Command{Type: CmdPut, Key: "/app/x", Value: "1"})
	ss, id := persist(t, a.f)
	_, rc, err := ss.Open(id)
	if err != nil {
		t.Fatal(err)
	}
	b := New(store.New())
	if err := b.Restore(rc); err != nil {
		t.Fatal(err)
	}
	if !b.AuthState().Equal(a.f.AuthState()) {
		t.Fatal("auth state differs after restore")
	}
	if !b.AuthState().Enabled() || string(b.AuthState().SigningKey()) != "signing" {
		t.Fatal("enabled flag or signing key lost")
	}

	// Cut inside the auth section: refused, and the old state stays.
	_, rc, _ = ss.Open(id)
	full, _ := io.ReadAll(rc)
	var ab bytes.Buffer
	a.f.AuthState().Encode(&ab)
	at := bytes.Index(full, ab.Bytes())
	if at < 0 {
		t.Fatal("auth encoding not found in the snapshot")
	}
	c := New(store.New())
	if err := c.Restore(io.NopCloser(bytes.NewReader(full[:at+ab.Len()/2]))); !errors.Is(err, ErrBadSnapshot) {
		t.Fatalf("cut auth section: %v", err)
	}
	if c.AuthState().Enabled() {
		t.Fatal("a failed restore changed the auth state")
	}
}

// A snapshot written before auth existed restores with auth off and no users.
func TestVersion1SnapshotHasNoAuth(t *testing.T) {
	old, err := os.ReadFile("testdata/snapshot-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	f := New(store.New())
	f.auth.Store(nil) // prove Restore installs a state, not keeps New's
	if err := f.Restore(io.NopCloser(bytes.NewReader(old))); err != nil {
		t.Fatal(err)
	}
	if s := f.AuthState(); s == nil || s.Enabled() || len(s.UserNames()) != 0 {
		t.Fatalf("auth state %+v", s)
	}
}
