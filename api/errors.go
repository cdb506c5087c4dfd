package api

import (
	"fmt"
	"net/http"
)

// The numeric error codes of etcd's v2 API. Existing clients switch on these numbers, so they
// never change.
const (
	CodeKeyNotFound        = 100
	CodeTestFailed         = 101
	CodeNotFile            = 102
	CodeNotDir             = 104
	CodeNodeExist          = 105
	CodeKeyIsPreserved     = 106
	CodeRootROnly          = 107
	CodeDirNotEmpty        = 108
	CodeUnauthorized       = 110
	CodePrevValueRequired  = 201
	CodeTTLNaN             = 202
	CodeIndexNaN           = 203
	CodeInvalidField       = 209
	CodeInvalidForm        = 210
	CodeRefreshValue       = 211
	CodeRefreshTTLRequired = 212
	CodeRaftInternal       = 300
	CodeLeaderElect        = 301
	CodeWatcherCleared     = 400
	CodeEventIndexCleared  = 401
)

var messages = map[int]string{
	CodeKeyNotFound:        "Key not found",
	CodeTestFailed:         "Compare failed",
	CodeNotFile:            "Not a file",
	CodeNotDir:             "Not a directory",
	CodeNodeExist:          "Key already exists",
	CodeKeyIsPreserved:     "The prefix of given key is a keyword in etcd",
	CodeRootROnly:          "Root is read only",
	CodeDirNotEmpty:        "Directory not empty",
	CodeUnauthorized:       "The request requires user authentication",
	CodePrevValueRequired:  "PrevValue is Required in POST form",
	CodeTTLNaN:             "The given TTL in POST form is not a number",
	CodeIndexNaN:           "The given index in POST form is not a number",
	CodeInvalidField:       "Invalid field",
	CodeInvalidForm:        "Invalid POST form",
	CodeRefreshValue:       "Value provided on refresh",
	CodeRefreshTTLRequired: "A TTL must be provided on refresh",
	CodeRaftInternal:       "Raft Internal Error",
	CodeLeaderElect:        "During Leader Election",
	CodeWatcherCleared:     "watcher is cleared due to etcd recovery",
	CodeEventIndexCleared:  "The event in requested index is outdated and cleared",
}

// Message is etcd's fixed message for a code.
func Message(code int) string {
	if m, ok := messages[code]; ok {
		return m
	}
	return "Unknown error"
}

// Error is the JSON body of every failed /v2/keys request.
type Error struct {
	ErrorCode int    `json:"errorCode"`
	Message   string `json:"message"`
	Cause     string `json:"cause,omitempty"`
	Index     uint64 `json:"index"`
}

// NewError fills Message from the code.
func NewError(code int, cause string, index uint64) *Error {
	return &Error{ErrorCode: code, Message: Message(code), Cause: cause, Index: index}
}

func (e *Error) Error() string {
	return fmt.Sprintf("%d: %s (%s) [%d]", e.ErrorCode, e.Message, e.Cause, e.Index)
}

// Status is the HTTP status etcd sends with a code; every code not listed is a 400.
func (e *Error) Status() int {
	switch e.ErrorCode {
	case CodeKeyNotFound:
		return http.StatusNotFound
	case CodeNotFile, CodeDirNotEmpty:
		return http.StatusForbidden
	case CodeUnauthorized:
		return http.StatusUnauthorized
	case CodeTestFailed, CodeNodeExist:
		return http.StatusPreconditionFailed
	case CodeRaftInternal, CodeLeaderElect:
		return http.StatusInternalServerError
	}
	return http.StatusBadRequest
}
