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
// password it was issued against, and until when.
type tokenClaims struct {
	User     string `json:"sub"`
	Revision uint64 `json:"rev"`
	Expiry   int64  `json:"exp"` // unix seconds
}

var b64 = base64.RawURLEncoding

// IssueToken signs a token for u valid until expiry with the state's signing
// key. Tokens are not stored anywhere: any member holding the same state
// verifies them.
func (s *State) IssueToken(u User, expiry time.Time) (string, error) {
	if len(s.key) == 0 {
		return "", ErrTokenInvalid
	}
	body, err := json.Marshal(tokenClaims{User: u.Name, Revision: u.Revision, Expiry: expiry.Unix()})
	if err != nil {
		return "", err
	}
	payload := b64.EncodeToString(body)
	return payload + "." + b64.EncodeToString(s.sign(payload)), nil
}

// VerifyToken returns the user a token was issued to, if its signature is
// the state's, it has not expired, and the user still exists with the
// password it had then.
func (s *State) VerifyToken(tok string, now time.Time) (User, error) {
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok || len(s.key) == 0 {
		return User{}, ErrTokenInvalid
	}
	got, err := b64.DecodeString(sig)
	if err != nil || !hmac.Equal(got, s.sign(payload)) {
		return User{}, ErrTokenInvalid
	}
	body, err := b64.DecodeString(payload)
	if err != nil {
		return User{}, ErrTokenInvalid
	}
	var c tokenClaims
	if err := json.Unmarshal(body, &c); err != nil {
		return User{}, ErrTokenInvalid
	}
	if now.Unix() >= c.Expiry {
		return User{}, ErrTokenExpired
	}
	u, ok := s.User(c.User)
	if !ok || u.Revision != c.Revision {
		return User{}, ErrTokenInvalid
	}
	return u, nil
}

func (s *State) sign(payload string) []byte {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte("cairn-token-v1\x00"))
	m.Write([]byte(payload))
	return m.Sum(nil)
}
