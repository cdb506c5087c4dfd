package auth

import (
	"bytes"
	"errors"
	"reflect"
	"testing"
)

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range []Command{
		{Op: OpEnable, Key: []byte{1, 2, 3}},
		{Op: OpDisable},
		{Op: OpCreateUser, Name: "bob", Hash: "$2a$04$x", Roles: []string{"app", "ops"}},
		{Op: OpCreateOrUpdateUser, Name: "alice", Hash: "$2a$04$y"},
		{Op: OpUpdateUser, Name: "alice", Grant: []string{"a"}, Revoke: []string{"b"}},
		{Op: OpDeleteUser, Name: "alice"},
		{Op: OpCreateRole, Name: "app", Perms: Permissions{Read: []string{"/a/*"}, Write: []string{}}},
		{Op: OpCreateRole, Name: "bare"},
		{Op: OpUpdateRole, Name: "app", GrantPerms: Permissions{Read: []string{"/x"}}, RevokePerms: Permissions{Write: []string{"/y"}}},
		{Op: OpDeleteRole, Name: "app"},
	} {
		b, err := c.MarshalBinary()
		if err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		var got Command
		if err := got.UnmarshalBinary(b); err != nil {
			t.Fatalf("%+v: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip\n got %#v\nwant %#v", got, c)
		}
	}
}

func TestCommandDecodeIsStrict(t *testing.T) {
	good, _ := (&Command{Op: OpDeleteUser, Name: "a"}).MarshalBinary()
	for name, b := range map[string][]byte{
		"empty":          nil,
		"other version":  append([]byte{2}, good[1:]...),
		"unknown field":  append([]byte{1}, []byte(`{"op":6,"name":"a","extra":1}`)...),
		"unknown op":     append([]byte{1}, []byte(`{"op":42}`)...),
		"op zero":        append([]byte{1}, []byte(`{}`)...),
		"trailing bytes": append(bytes.Clone(good), []byte(`{"op":6}`)...),
		"not json":       {1, 'x'},
	} {
		var c Command
		if err := c.UnmarshalBinary(b); !errors.Is(err, ErrBadCommand) {
			t.Errorf("%s: %v, want ErrBadCommand", name, err)
		}
	}
	if _, err := (&Command{Op: 0}).MarshalBinary(); !errors.Is(err, ErrBadCommand) {
		t.Fatalf("marshal op 0: %v", err)
	}
}

func FuzzCommandDecode(f *testing.F) {
	for _, c := range []Command{{Op: OpEnable, Key: []byte("k")}, {Op: OpCreateRole, Name: "r", Perms: Permissions{Read: []string{"/a"}}}} {
		b, _ := c.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var c Command
		if err := c.UnmarshalBinary(b); err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		again, err := c.MarshalBinary()
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", c, err)
		}
		var d Command
		if err := d.UnmarshalBinary(again); err != nil || !reflect.DeepEqual(c, d) {
			t.Fatalf("unstable: %#v vs %#v (%v)", c, d, err)
		}
		// And applying it never panics.
		Empty().Apply(&c, 1)
	})
}
