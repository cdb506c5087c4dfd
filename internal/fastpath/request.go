package fastpath

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
)

// request is a connection's reusable request: the *http.Request handed to the handler and
// the buffers behind it.
type request struct {
	base          http.Request // carries the context; copied into r for each request
	r             *http.Request
	url           url.URL
	header        http.Header
	body          bytes.Reader
	bodyCloser    io.ReadCloser // body behind a Close, made once
	bodyBuf       []byte
	contentLength int64
}

func (q *request) init(ctx context.Context, remote string) {
	q.base = *(&http.Request{}).WithContext(ctx)
	q.base.RemoteAddr = remote
	q.base.Proto, q.base.ProtoMajor, q.base.ProtoMinor = "HTTP/1.1", 1, 1
	q.header = make(http.Header, 8)
	q.r = new(http.Request)
	q.bodyCloser = io.NopCloser(&q.body)
}

// release drops what the last request left behind, so nothing leaks into the next one.
func (q *request) release() {
	clear(q.header)
	q.url = url.URL{}
	q.body.Reset(nil)
	if cap(q.bodyBuf) > 64<<10 {
		q.bodyBuf = nil
	}
}

// parse fills q.r from a request head ending in CRLF CRLF. It reports false, for the caller to
// hand the connection over, on anything outside the plain subset served here.
func (q *request) parse(head []byte) bool {
	*q.r = q.base
	r := q.r
	line, rest, ok := cutLine(head)
	if !ok {
		return false
	}
	method, target, version, ok := splitRequestLine(line)
	if !ok || version != "HTTP/1.1" {
		return false
	}
	switch string(method) {
	case "GET":
		r.Method = http.MethodGet
	case "PUT":
		r.Method = http.MethodPut
	case "POST":
		r.Method = http.MethodPost
	case "DELETE":
		r.Method = http.MethodDelete
	default:
		return false
	}
	if len(target) == 0 || target[0] != '/' || !plainTarget(target) {
		return false
	}
	r.RequestURI = string(target)
	path, query := r.RequestURI, ""
	if i := bytes.IndexByte(target, '?'); i >= 0 {
		path, query = r.RequestURI[:i], r.RequestURI[i+1:]
	}
	q.url.Path, q.url.RawQuery = path, query
	r.URL = &q.url
	r.Header = q.header
	q.contentLength = 0
	sawLength, sawHost := false, false
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return false
		}
		if len(line) == 0 {
			break
		}
		name, value, ok := splitHeader(line)
		if !ok {
			return false
		}
		key := canonicalKey(name)
		switch key {
		case "Host":
			// net/http answers 400 to a Host it finds malformed: such a request is not ours.
			if sawHost || !validHost(value) {
				return false
			}
			sawHost = true
			r.Host = string(value)
			continue
		case "Content-Length":
			n, ok := parseLength(value)
			if !ok || sawLength {
				return false
			}
			sawLength = true
			q.contentLength = n
		case "Transfer-Encoding", "Expect", "Upgrade", "Trailer":
			return false
		case "Connection":
			if !asciiEqualFold(value, "keep-alive") {
				return false
			}
		}
		q.header[key] = append(q.header[key], internValue(value))
	}
	if !sawHost {
		return false
	}
	r.ContentLength = q.contentLength
	return true
}

// readBody reads the whole body now, so the handler never blocks on the connection and a short
// body is detected before anything is applied.
func (q *request) readBody(br *bufio.Reader) error {
	r := q.r
	if q.contentLength == 0 {
		r.Body = http.NoBody
		return nil
	}
	if int64(cap(q.bodyBuf)) < q.contentLength {
		q.bodyBuf = make([]byte, q.contentLength)
	}
	buf := q.bodyBuf[:q.contentLength]
	if _, err := io.ReadFull(br, buf); err != nil {
		return err
	}
	q.body.Reset(buf)
	r.Body = q.bodyCloser
	return nil
}

func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 1 || b[i-1] != '\r' {
		return nil, nil, false
	}
	return b[:i-1], b[i+1:], true
}

func splitRequestLine(line []byte) (method, target []byte, version string, ok bool) {
	i := bytes.IndexByte(line, ' ')
	if i <= 0 {
		return nil, nil, "", false
	}
	j := bytes.IndexByte(line[i+1:], ' ')
	if j <= 0 {
		return nil, nil, "", false
	}
	method, target = line[:i], line[i+1:i+1+j]
	v := line[i+2+j:]
	if string(v) != "HTTP/1.1" {
		return nil, nil, "", false
	}
	return method, target, "HTTP/1.1", true
}

// plainTarget accepts an origin-form target whose bytes need no decoding: no escapes, no
// fragment, no spaces or controls. Anything else goes to net/http's URL parser.
func plainTarget(t []byte) bool {
	for _, c := range t {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("-._~/!$&'()*+,;=:@?", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func splitHeader(line []byte) (name, value []byte, ok bool) {
	i := bytes.IndexByte(line, ':')
	if i <= 0 {
		return nil, nil, false
	}
	name = line[:i]
	for _, c := range name {
		if !isTokenByte(c) {
			return nil, nil, false
		}
	}
	value = bytes.Trim(line[i+1:], " \t")
	for _, c := range value {
		if c < ' ' && c != '\t' || c == 0x7f {
			return nil, nil, false
		}
	}
	return name, value, true
}

// validHost accepts the bytes net/http accepts in a Host header: those of a reg-name, an IP
// literal and a port.
func validHost(v []byte) bool {
	for _, c := range v {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func parseLength(v []byte) (int64, bool) {
	if len(v) == 0 || len(v) > 18 {
		return 0, false
	}
	var n int64
	for _, c := range v {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	return n, true
}

// commonKeys are the header names clients send on every request; matching them avoids a
// string per header per request.
var commonKeys = []string{
	"Host", "User-Agent", "Accept", "Accept-Encoding", "Content-Type", "Content-Length",
	"Connection", "Authorization", "X-Cairn-Forwarded",
}

func canonicalKey(name []byte) string {
	for _, k := range commonKeys {
		if asciiEqualFold(name, k) {
			return k
		}
	}
	return textproto.CanonicalMIMEHeaderKey(string(name))
}

var commonValues = []string{
	"application/x-www-form-urlencoded", "gzip", "*/*", "keep-alive", "Go-http-client/1.1",
}

func internValue(v []byte) string {
	for _, c := range commonValues {
		if string(v) == c {
			return c
		}
	}
	return string(v)
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		x, y := b[i], s[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
