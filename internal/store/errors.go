package store

import (
	"errors"
	"fmt"
)

// Sentinels carry etcd's messages so that callers can render them directly;
// httpapi maps them to etcd's numeric codes in one place.
var (
	ErrKeyNotFound       = errors.New("Key not found")                                        // 100
	ErrTestFailed        = errors.New("Compare failed")                                       // 101
	ErrNotFile           = errors.New("Not a file")                                           // 102
	ErrNotDir            = errors.New("Not a directory")                                      // 104
	ErrNodeExist         = errors.New("Key already exists")                                   // 105
	ErrKeyIsPreserved    = errors.New("The prefix of given key is a keyword in etcd")         // 106, for callers that reserve prefixes; the store itself reserves none
	ErrRootReadOnly      = errors.New("Root is read only")                                    // 107
	ErrDirNotEmpty       = errors.New("Directory not empty")                                  // 108
	ErrEventIndexCleared = errors.New("The event in requested index is outdated and cleared") // 401
	ErrInvalidKey        = errors.New("Invalid key")                                          // no etcd code: a 400 above
)

// Error is how every store failure is returned. Err is one of the sentinels
// (errors.Is works), Cause is etcd's cause text and Index is the store index
// at the time of the failure (etcd's "index" field and X-Etcd-Index).
type Error struct {
	Err   error
	Cause string
	Index uint64
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s (%s) [%d]", e.Err.Error(), e.Cause, e.Index)
}

func (e *Error) Unwrap() error { return e.Err }

func newError(sentinel error, cause string, index uint64) *Error {
	return &Error{Err: sentinel, Cause: cause, Index: index}
}
