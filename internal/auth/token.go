package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Token refusals. Expired is told apart so that a client knows to log in
// again; on the wire both are the same 401.
var (
	ErrTokenInvalid = errors.New("invalid token")
	ErrTokenExpired = errors.New("token expired")
)

// tokenClaims is a token's signed body: who, which revision of the user's
// password it was issued against (native users), or the directory groups it
// was issued with (external users), and until when.
type tokenClaims struct {
	User     string   `json:"sub"`
	Revision uint64   `json:"rev,omitempty"`
	External bool     `json:"ext,omitempty"`
	Groups   []string `json:"grp,omitempty"`
	Expiry   int64    `json:"exp"` // unix seconds
}

var b64 = base64.RawURLEncoding

// IssueToken signs a token for id valid until expiry with the state's
// signing key. Tokens are not stored anywhere: any member holding the same
// state verifies them. An external user's token carries its groups; its
// expiry should not outlive the directory cache's TTL.
func (s *State) IssueToken(id Identity, expiry time.Time) (string, error) {
	if len(s.key) == 0 || id.Anonymous() {
		return "", ErrTokenInvalid
	}
	c := tokenClaims{User: id.User, External: id.External, Groups: id.Groups, Expiry: expiry.Unix()}
	if !id.External {
		u, ok := s.User(id.User)
		if !ok {
			return "", ErrTokenInvalid
		}
		c.Revision = u.Revision
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", err
	}
	payload := b64.EncodeToString(body)
	return payload + "." + b64.EncodeToString(s.sign(payload)), nil
}

// VerifyToken returns whom a token was issued to, if its signature is the
// state's and it has not expired; for a native user, only while the user
// still exists with the password it had then.
func (s *State) VerifyToken(tok string, now time.Time) (Identity, error) {
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok || len(s.key) == 0 {
		return Identity{}, ErrTokenInvalid
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.sign(payload)) {
		return Identity{}, ErrTokenInvalid
	}
	body, err := b64.DecodeString(payload)
	if err != nil {
		return Identity{}, ErrTokenInvalid
	}
	var c tokenClaims
	if err := json.Unmarshal(body, &c); err != nil || c.User == "" {
		return Identity{}, ErrTokenInvalid
	}
	if now.Unix() >= c.Expiry {
		return Identity{}, ErrTokenExpired
	}
	if c.External {
		return Identity{User: c.User, External: true, Groups: c.Groups}, nil
	}
	u, ok := s.User(c.User)
	if !ok || u.Revision != c.Revision {
		return Identity{}, ErrTokenInvalid
	}
	return Identity{User: u.Name}, nil
}

func (s *State) sign(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("cairn-token-v1\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}
