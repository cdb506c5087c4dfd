package auth

import (
	"errors"

	"golang.org/x/crypto/bcrypt"
)

// PasswordCost is bcrypt's cost for stored passwords: slow on purpose, so a
// stolen snapshot resists guessing. The verified-credentials cache keeps it
// off the hot path.
const PasswordCost = bcrypt.DefaultCost

// ErrPasswordTooLong: bcrypt reads at most 72 bytes, and silently ignoring the
// rest would let a longer password match a shorter one.
var ErrPasswordTooLong = errors.New("password longer than 72 bytes")

// HashPassword makes the stored form of a password at cost (PasswordCost when 0).
func HashPassword(password string, cost int) (string, error) {
	if len(password) > 72 {
		return "", ErrPasswordTooLong
	}
	if cost == 0 {
		cost = PasswordCost
	}
	return hashAtCost(password, cost)
}

func hashAtCost(password string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(h), err
}

// checkPassword is the slow comparison.
func checkPassword(hash, password string) bool {
	if len(password) > 72 {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
