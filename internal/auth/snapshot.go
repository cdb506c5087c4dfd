package auth

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
)

// snapshotVersion is the version of the encoding below; Decode refuses any
// other.
const snapshotVersion = 1

type wireState struct {
	Version int        `json:"v"`
	Enabled bool       `json:"enabled"`
	Key     []byte     `json:"key,omitempty"`
	Users   []wireUser `json:"users"`
	Roles   []wireRole `json:"roles"`
}

type wireUser struct {
	Name     string   `json:"name"`
	Hash     string   `json:"hash"`
	Roles    []string `json:"roles"`
	RolesNil bool     `json:"rolesNil,omitempty"`
	Revision uint64   `json:"rev"`
}

type wireRole struct {
	Name     string   `json:"name"`
	Read     []string `json:"read"`
	Write    []string `json:"write"`
	ReadNil  bool     `json:"readNil,omitempty"`
	WriteNil bool     `json:"writeNil,omitempty"`
}

// Encode writes the state for a snapshot, deterministically (sorted by name),
// so every replica writes the same bytes.
func (s *State) Encode(w io.Writer) error {
	ws := wireState{Version: snapshotVersion, Enabled: s.enabled, Key: s.key,
		Users: []wireUser{}, Roles: []wireRole{}}
	for _, n := range s.UserNames() {
		u := s.users[n]
		ws.Users = append(ws.Users, wireUser{Name: u.Name, Hash: u.Hash, Roles: u.Roles, RolesNil: u.Roles == nil, Revision: u.Revision})
	}
	for _, n := range s.RoleNames() {
		if n == RootRole {
			continue
		}
		r := s.roles[n]
		ws.Roles = append(ws.Roles, wireRole{Name: r.Name, Read: r.Perms.Read, Write: r.Perms.Write,
			ReadNil: r.Perms.Read == nil, WriteNil: r.Perms.Write == nil})
	}
	return json.NewEncoder(w).Encode(ws)
}

// Decode reads what Encode wrote.
func Decode(r io.Reader) (*State, error) {
	dec := json.NewDecoder(r)
	dec.DisallowUnknownFields()
	var ws wireState
	if err := dec.Decode(&ws); err != nil {
		return nil, fmt.Errorf("auth state: %w", err)
	}
	if ws.Version != snapshotVersion {
		return nil, fmt.Errorf("auth state: unknown version %d", ws.Version)
	}
	s := Empty()
	s.enabled, s.key = ws.Enabled, ws.Key
	for _, u := range ws.Users {
		if !ValidName(u.Name) {
			return nil, fmt.Errorf("auth state: invalid user name")
		}
		s.users[u.Name] = User{Name: u.Name, Hash: u.Hash, Roles: keepEmpty(u.Roles, !u.RolesNil), Revision: u.Revision}
	}
	for _, r := range ws.Roles {
		if !ValidName(r.Name) || r.Name == RootRole {
			return nil, fmt.Errorf("auth state: invalid role name")
		}
		s.roles[r.Name] = Role{Name: r.Name, Perms: Permissions{Read: keepEmpty(r.Read, !r.ReadNil), Write: keepEmpty(r.Write, !r.WriteNil)}}
	}
	return s, nil
}

// Equal reports whether two states hold the same data, for tests and for
// checking that replicas agree.
func (s *State) Equal(o *State) bool {
	if s.enabled != o.enabled || !slices.Equal(s.key, o.key) || len(s.users) != len(o.users) || len(s.roles) != len(o.roles) {
		return false
	}
	for n, u := range s.users {
		v, ok := o.users[n]
		if !ok || u.Hash != v.Hash || u.Revision != v.Revision || !slices.Equal(u.Roles, v.Roles) || (u.Roles == nil) != (v.Roles == nil) {
			return false
		}
	}
	for n, r := range s.roles {
		q, ok := o.roles[n]
		if !ok || !slices.Equal(r.Perms.Read, q.Perms.Read) || !slices.Equal(r.Perms.Write, q.Perms.Write) ||
			(r.Perms.Read == nil) != (q.Perms.Read == nil) || (r.Perms.Write == nil) != (q.Perms.Write == nil) {
			return false
		}
	}
	return true
}
