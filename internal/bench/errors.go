package bench

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strconv"
	"syscall"
)

// Classify names the kind of a failed operation, or returns "" for a success.
// Kinds: "etcd-<errorCode>" when the body carries an etcd error code,
// "http-<status>" for any other non-2xx status, and "transport-<class>" when
// no response arrived (timeout, refused, reset, eof, other).
func Classify(status int, body []byte, err error) string {
	if err != nil {
		return "transport-" + transportClass(err)
	}
	if status >= 200 && status < 300 {
		return ""
	}
	if code, ok := scanUint(body, `"errorCode":`); ok {
		return "etcd-" + strconv.FormatUint(code, 10)
	}
	return "http-" + strconv.Itoa(status)
}

func transportClass(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	}
	return "other"
}

// scanUint finds the first occurrence of field in a JSON body and parses the
// unsigned number after it. The bench's own values are alphanumeric, so the
// field name cannot appear inside a value; this spares a full JSON decode in
// the hot path.
func scanUint(body []byte, field string) (uint64, bool) {
	i := bytes.Index(body, []byte(field))
	if i < 0 {
		return 0, false
	}
	rest := body[i+len(field):]
	j := 0
	for j < len(rest) && rest[j] == ' ' {
		j++
	}
	start := j
	var n uint64
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		n = n*10 + uint64(rest[j]-'0')
		j++
	}
	if j == start {
		return 0, false
	}
	return n, true
}

// ErrorCounts is a count per error kind.
type ErrorCounts map[string]int64

// Add merges other into e.
func (e ErrorCounts) Add(other ErrorCounts) {
	for k, n := range other {
		e[k] += n
	}
}

// Total is the sum over every kind.
func (e ErrorCounts) Total() int64 {
	var t int64
	for _, n := range e {
		t += n
	}
	return t
}
