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

// HashPassword makes the stored form of a password.
func HashPassword(password string) (string, error) {
	if len(password) > 72 {
		return "", ErrPasswordTooLong
	}
	return hashAtCost(password, PasswordCost)
}

func hashAtCost(password string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	return string(h), err
}

// dummyHash is compared against when a user does not exist, so that a wrong
// user name costs the same time as a wrong password.
var dummyHash = func() []byte {
	h, err := bcrypt.GenerateFromPassword([]byte("cairn: no such user"), PasswordCost)
	if err != nil {
		panic(err)
	}
	return h
}()

// checkPassword is the slow comparison.
func checkPassword(hash, password string) bool {
	if len(password) > 72 {
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}
