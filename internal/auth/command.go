package auth

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// commandVersion is the first byte of an encoded Command. A replica meeting
// another version refuses the entry instead of guessing.
const commandVersion = 1

// wireCommand is Command's encoding. The field names are part of the log's
// format: rename none.
type wireCommand struct {
	Op          Op       `json:"op"`
	Name        string   `json:"name,omitempty"`
	Hash        string   `json:"hash,omitempty"`
	Roles       []string `json:"roles,omitempty"`
	Grant       []string `json:"grant,omitempty"`
	Revoke      []string `json:"revoke,omitempty"`
	Read        []string `json:"read,omitempty"`
	Write       []string `json:"write,omitempty"`
	ReadNil     bool     `json:"readNil,omitempty"`
	WriteNil    bool     `json:"writeNil,omitempty"`
	GrantRead   []string `json:"grantRead,omitempty"`
	GrantWrite  []string `json:"grantWrite,omitempty"`
	RevokeRead  []string `json:"revokeRead,omitempty"`
	RevokeWrite []string `json:"revokeWrite,omitempty"`
	Key         []byte   `json:"key,omitempty"`
}

// MarshalBinary encodes c for the raft log.
func (c *Command) MarshalBinary() ([]byte, error) {
	if !c.Op.valid() {
		return nil, fmt.Errorf("%w: op %d", ErrBadCommand, c.Op)
	}
	w := wireCommand{Op: c.Op, Name: c.Name, Hash: c.Hash, Roles: c.Roles, Grant: c.Grant, Revoke: c.Revoke,
		Read: c.Perms.Read, Write: c.Perms.Write, ReadNil: c.Perms.Read == nil, WriteNil: c.Perms.Write == nil,
		GrantRead: c.GrantPerms.Read, GrantWrite: c.GrantPerms.Write,
		RevokeRead: c.RevokePerms.Read, RevokeWrite: c.RevokePerms.Write, Key: c.Key}
	if c.Op != OpCreateRole {
		w.ReadNil, w.WriteNil = false, false
	}
	body, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	return append([]byte{commandVersion}, body...), nil
}

// UnmarshalBinary decodes what MarshalBinary wrote, strictly: an unknown
// version, field or op is an error.
func (c *Command) UnmarshalBinary(b []byte) error {
	if len(b) == 0 || b[0] != commandVersion {
		return fmt.Errorf("%w: unknown encoding version", ErrBadCommand)
	}
	dec := json.NewDecoder(bytes.NewReader(b[1:]))
	dec.DisallowUnknownFields()
	var w wireCommand
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	if dec.More() {
		return fmt.Errorf("%w: trailing data", ErrBadCommand)
	}
	if !w.Op.valid() {
		return fmt.Errorf("%w: op %d", ErrBadCommand, w.Op)
	}
	// An empty list or key means the same as an absent one, and MarshalBinary omits both, so
	// both decode to nil: a command reads back exactly as it went into the log.
	*c = Command{Op: w.Op, Name: w.Name, Hash: w.Hash, Roles: nilIfEmpty(w.Roles), Grant: nilIfEmpty(w.Grant),
		Revoke:      nilIfEmpty(w.Revoke),
		Perms:       Permissions{Read: keepEmpty(w.Read, !w.ReadNil), Write: keepEmpty(w.Write, !w.WriteNil)},
		GrantPerms:  Permissions{Read: nilIfEmpty(w.GrantRead), Write: nilIfEmpty(w.GrantWrite)},
		RevokePerms: Permissions{Read: nilIfEmpty(w.RevokeRead), Write: nilIfEmpty(w.RevokeWrite)}, Key: nilIfEmpty(w.Key)}
	if c.Op != OpCreateRole {
		c.Perms = Permissions{}
	}
	return nil
}

// keepEmpty turns a decoded nil list back into an empty one when the encoder
// saw an empty (not nil) list: etcd answers [] for one and null for the other.
func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func keepEmpty(s []string, nonNil bool) []string {
	if s == nil && nonNil {
		return []string{}
	}
	return s
}
