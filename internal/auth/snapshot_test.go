package auth

import (
	"bytes"
	"strings"
	"testing"
)

func TestSnapshotRoundTripIsDeterministic(t *testing.T) {
	s := accessState(t)
	s, _ = mustApply(t, s, Command{Op: OpCreateOrUpdateUser, Name: "zed", Hash: fastHash(t, "z")}, 90)
	var a, b bytes.Buffer
	if err := s.Encode(&a); err != nil {
		t.Fatal(err)
	}
	if err := s.Encode(&b); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two encodings of one state differ")
	}
	got, err := Decode(bytes.NewReader(a.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equal(s) {
		t.Fatal("decoded state differs")
	}
	// nil and empty lists survive, since etcd renders them differently.
	if u, _ := got.User("zed"); u.Roles != nil {
		t.Fatalf("zed roles %#v, want nil", u.Roles)
	}
	if u, _ := got.User("nobody"); u.Roles == nil {
		t.Fatal("nobody's empty roles came back nil")
	}
	var c bytes.Buffer
	got.Encode(&c)
	if !bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("re-encoding the decoded state differs")
	}
}

func TestSnapshotDecodeRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"version":   `{"v":2,"enabled":false,"users":[],"roles":[]}`,
		"unknown":   `{"v":1,"enabled":false,"users":[],"roles":[],"x":1}`,
		"root role": `{"v":1,"enabled":false,"users":[],"roles":[{"name":"root","read":[],"write":[]}]}`,
		"bad name":  `{"v":1,"enabled":false,"users":[{"name":"a/b","hash":"","roles":[],"rev":1}],"roles":[]}`,
		"truncated": `{"v":1,"enabled":`,
		"not json":  `hello`,
	} {
		if _, err := Decode(strings.NewReader(in)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestEqual(t *testing.T) {
	s := accessState(t)
	if !s.Equal(s) {
		t.Fatal("state not equal to itself")
	}
	n, _ := mustApply(t, s, Command{Op: OpUpdateRole, Name: "app", GrantPerms: Permissions{Read: []string{"/z"}}}, 70)
	if s.Equal(n) || n.Equal(s) {
		t.Fatal("different states equal")
	}
}
