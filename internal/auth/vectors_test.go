package auth

import (
	"bytes"
	"encoding/hex"
	"reflect"
	"testing"

	"github.com/cairn-io/cairn/test/vectors"
)

// authVectors freeze the encoding of every auth command op as the raft log carries it (inside
// fsm's CmdAuth), and the auth state's snapshot encoding: a replica of a later build must
// apply what an earlier one wrote.
var authVectors = []struct {
	name string
	cmd  Command
}{
	{"auth-enable", Command{Op: OpEnable, Key: []byte("0123456789abcdef")}},
	{"auth-disable", Command{Op: OpDisable}},
	{"auth-create-user", Command{Op: OpCreateUser, Name: "bob", Hash: "$2a$04$abc", Roles: []string{"app"}}},
	{"auth-create-or-update-user", Command{Op: OpCreateOrUpdateUser, Name: "alice", Hash: "$2a$04$def"}},
	{"auth-update-user", Command{Op: OpUpdateUser, Name: "alice", Grant: []string{"ops"}, Revoke: []string{"app"}}},
	{"auth-delete-user", Command{Op: OpDeleteUser, Name: "alice"}},
	{"auth-create-role", Command{Op: OpCreateRole, Name: "app", Perms: Permissions{Read: []string{"/app/*"}, Write: []string{}}}},
	{"auth-update-role", Command{Op: OpUpdateRole, Name: "app", GrantPerms: Permissions{Write: []string{"/app/*"}},
		RevokePerms: Permissions{Read: []string{"/old"}}}},
	{"auth-delete-role", Command{Op: OpDeleteRole, Name: "app"}},
}

func TestAuthCommandVectors(t *testing.T) {
	seen := map[Op]bool{}
	for _, v := range authVectors {
		t.Run(v.name, func(t *testing.T) {
			enc, err := v.cmd.MarshalBinary()
			if err != nil {
				t.Fatal(err)
			}
			frozen := vectors.Read(t, v.name, enc)
			var got Command
			if err := got.UnmarshalBinary(frozen); err != nil {
				t.Fatalf("today's code refuses the frozen bytes: %v", err)
			}
			if !reflect.DeepEqual(got, v.cmd) {
				t.Fatalf("frozen bytes decode to\n%+v\nwant\n%+v", got, v.cmd)
			}
			if !bytes.Equal(enc, frozen) {
				t.Fatalf("encoding changed:\nnow\n%sfrozen\n%s", hex.Dump(enc), hex.Dump(frozen))
			}
		})
		seen[v.cmd.Op] = true
	}
	for op := Op(0); op < 255; op++ {
		if op.valid() && !seen[op] {
			t.Errorf("op %d has no frozen vector", op)
		}
	}
}

func TestAuthStateVector(t *testing.T) {
	s := Empty()
	for i, c := range []Command{
		{Op: OpCreateOrUpdateUser, Name: "root", Hash: "$2a$04$root"},
		{Op: OpCreateRole, Name: "app", Perms: Permissions{Read: []string{"/app/*"}, Write: []string{}}},
		{Op: OpCreateUser, Name: "alice", Hash: "$2a$04$alice", Roles: []string{"app"}},
		{Op: OpEnable, Key: []byte("0123456789abcdef")},
	} {
		var err error
		if s, _, err = s.Apply(&c, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	var now bytes.Buffer
	if err := s.Encode(&now); err != nil {
		t.Fatal(err)
	}
	frozen := vectors.Read(t, "auth-state", now.Bytes())
	got, err := Decode(bytes.NewReader(frozen))
	if err != nil {
		t.Fatalf("today's code refuses the frozen state: %v", err)
	}
	if !got.Equal(s) {
		t.Fatal("frozen state decodes to another state")
	}
	if !bytes.Equal(now.Bytes(), frozen) {
		t.Fatalf("encoding changed:\nnow\n%sfrozen\n%s", hex.Dump(now.Bytes()), hex.Dump(frozen))
	}
}
