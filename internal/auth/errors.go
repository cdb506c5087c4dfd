package auth

import (
	"errors"
	"fmt"
)

// Sentinels for every refusal of an auth-state change or lookup. Error carries
// etcd's exact message beside them, since etcd v2 clients show it to users.
var (
	ErrUserNotFound     = errors.New("user not found")
	ErrUserExists       = errors.New("user already exists")
	ErrRoleNotFound     = errors.New("role not found")
	ErrRoleExists       = errors.New("role already exists")
	ErrRootRoleReadOnly = errors.New("root role cannot be modified")
	ErrRootUserNeeded   = errors.New("root user cannot be deleted while auth is enabled")
	ErrEmptyPassword    = errors.New("empty password")
	ErrNotUpdated       = errors.New("nothing to update")
	ErrDuplicateGrant   = errors.New("duplicate grant")
	ErrUngrantedRevoke  = errors.New("revoking what was not granted")
	ErrAlreadyEnabled   = errors.New("auth already enabled")
	ErrAlreadyDisabled  = errors.New("auth already disabled")
	ErrNoRootUser       = errors.New("no root user")
	ErrBadCommand       = errors.New("malformed auth command")
	ErrInvalidName      = errors.New("invalid user or role name")
)

// Error is how the state reports a refusal: Err is a sentinel (errors.Is
// works) and Message is the text etcd 3.4 answers for the same refusal.
type Error struct {
	Err     error
	Message string
}

func (e *Error) Error() string { return e.Message }
func (e *Error) Unwrap() error { return e.Err }

func refuse(sentinel error, format string, args ...any) *Error {
	return &Error{Err: sentinel, Message: "auth: " + fmt.Sprintf(format, args...)}
}
