package bench

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"slices"
)

// rawResponse is one parsed reply. close says the connection must not carry
// another request (Connection: close, HTTP/1.0, or a body delimited by EOF).
type rawResponse struct {
	Response
	close bool
}

var (
	errHeaderTooLong = errors.New("bench: response header line longer than the read buffer")
	errBadChunk      = errors.New("bench: malformed chunked body")
	errUnexpected101 = errors.New("bench: unexpected 101 Switching Protocols")
)

// maxBody bounds a declared Content-Length or chunk size: a larger one is a
// corrupt stream, not a reply of this API, and must not be allocated.
const maxBody = 1 << 30

// readResponse reads one reply from br, its body into buf's storage (grown as
// needed; the result's Body holds it even on error, for reuse). head means the
// request was a HEAD, whose reply has no body whatever its headers say.
// started tells whether any byte of the reply was consumed: a reply that never
// began is the only kind a retry may replace.
func readResponse(br *bufio.Reader, head bool, buf []byte) (r rawResponse, started bool, err error) {
	r.Body = buf[:0]
	var h respHead
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			if !started && len(line) == 0 && err != bufio.ErrBufferFull {
				return r, false, err
			}
			return r, true, lineErr(err)
		}
		started = true
		if h, err = readHead(br, trimEOL(line)); err != nil {
			return r, true, err
		}
		// An informational reply precedes the real one; 101 would switch
		// protocols, which this client never asks for.
		if h.status == 101 {
			return r, true, errUnexpected101
		}
		if h.status >= 200 {
			break
		}
	}
	r.Status, r.Index, r.close = h.status, h.index, h.close
	switch {
	case head || h.status == 204 || h.status == 304:
	case h.transferEncoding && h.chunked:
		r.Body, err = readChunked(br, r.Body)
	case h.transferEncoding || h.contentLength < 0:
		// No length: the body runs to the end of the connection.
		r.close = true
		r.Body, err = readToEOF(br, r.Body)
	default:
		n := int(h.contentLength)
		r.Body = slices.Grow(r.Body, n)[:n]
		if _, err = io.ReadFull(br, r.Body); err != nil {
			err = lineErr(err)
		}
	}
	return r, true, err
}

// respHead is what the client needs of a status line and header block.
type respHead struct {
	status           int
	index            uint64
	contentLength    int64 // -1 when absent
	transferEncoding bool
	chunked          bool // the last transfer coding is chunked
	close            bool
}

func readHead(br *bufio.Reader, statusLine []byte) (h respHead, err error) {
	status, minor, ok := parseStatusLine(statusLine)
	if !ok {
		return h, fmt.Errorf("bench: malformed status line %q", statusLine)
	}
	h.status, h.contentLength = status, -1
	h.close = minor == 0 // HTTP/1.0 closes unless it says keep-alive
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return h, lineErr(err)
		}
		line = trimEOL(line)
		if len(line) == 0 {
			return h, nil
		}
		if line[0] == ' ' || line[0] == '\t' {
			return h, fmt.Errorf("bench: folded header line %q", line)
		}
		colon := indexByte(line, ':')
		if colon <= 0 {
			return h, fmt.Errorf("bench: malformed header line %q", line)
		}
		name, value := line[:colon], trimSpace(line[colon+1:])
		switch {
		case equalFold(name, "content-length"):
			n, ok := parseDecimal(value)
			if !ok || h.contentLength >= 0 && h.contentLength != int64(n) || n > maxBody {
				return h, fmt.Errorf("bench: bad Content-Length %q", value)
			}
			h.contentLength = int64(n)
		case equalFold(name, "transfer-encoding"):
			h.transferEncoding = true
			h.chunked = lastTokenIs(value, "chunked")
		case equalFold(name, "connection"):
			if hasToken(value, "close") {
				h.close = true
			} else if minor == 0 && hasToken(value, "keep-alive") {
				h.close = false
			}
		case equalFold(name, "x-etcd-index"):
			h.index, _ = parseDecimal(value)
		}
	}
}

// parseStatusLine accepts "HTTP/1.x NNN[ reason]".
func parseStatusLine(l []byte) (status, minor int, ok bool) {
	if len(l) < 12 || string(l[:7]) != "HTTP/1." || !isDigit(l[7]) || l[8] != ' ' ||
		!isDigit(l[9]) || !isDigit(l[10]) || !isDigit(l[11]) || len(l) > 12 && l[12] != ' ' {
		return 0, 0, false
	}
	status = int(l[9]-'0')*100 + int(l[10]-'0')*10 + int(l[11]-'0')
	return status, int(l[7] - '0'), status >= 100
}

// readChunked decodes a chunked body: chunk extensions and trailers are read
// and ignored.
func readChunked(br *bufio.Reader, body []byte) ([]byte, error) {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return body, lineErr(err)
		}
		size, ok := parseChunkSize(trimEOL(line))
		if !ok {
			return body, fmt.Errorf("%w: chunk size line %q", errBadChunk, line)
		}
		if size == 0 {
			break
		}
		n := len(body)
		body = slices.Grow(body, size)[:n+size]
		if _, err := io.ReadFull(br, body[n:]); err != nil {
			return body, lineErr(err)
		}
		line, err = br.ReadSlice('\n')
		if err != nil {
			return body, lineErr(err)
		}
		if len(trimEOL(line)) != 0 {
			return body, fmt.Errorf("%w: chunk longer than its size", errBadChunk)
		}
	}
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return body, lineErr(err)
		}
		if len(trimEOL(line)) == 0 {
			return body, nil
		}
	}
}

func parseChunkSize(l []byte) (int, bool) {
	if i := indexByte(l, ';'); i >= 0 {
		l = l[:i]
	}
	l = trimSpace(l)
	if len(l) == 0 || len(l) > 8 {
		return 0, false
	}
	n := 0
	for _, c := range l {
		switch {
		case '0' <= c && c <= '9':
			n = n<<4 | int(c-'0')
		case 'a' <= c && c <= 'f':
			n = n<<4 | int(c-'a'+10)
		case 'A' <= c && c <= 'F':
			n = n<<4 | int(c-'A'+10)
		default:
			return 0, false
		}
	}
	return n, n <= maxBody
}

func readToEOF(br *bufio.Reader, body []byte) ([]byte, error) {
	for {
		if len(body) == cap(body) {
			body = slices.Grow(body, max(4096, len(body)))
		}
		n, err := br.Read(body[len(body):cap(body)])
		body = body[:len(body)+n]
		if err == io.EOF {
			return body, nil
		}
		if err != nil {
			return body, err
		}
	}
}

// lineErr turns a reply cut short into io.ErrUnexpectedEOF, which is what it
// is once some of the reply was read.
func lineErr(err error) error {
	switch err {
	case io.EOF:
		return io.ErrUnexpectedEOF
	case bufio.ErrBufferFull:
		return errHeaderTooLong
	}
	return err
}

func trimEOL(l []byte) []byte {
	if n := len(l); n > 0 && l[n-1] == '\n' {
		l = l[:n-1]
		if n := len(l); n > 0 && l[n-1] == '\r' {
			l = l[:n-1]
		}
	}
	return l
}

func trimSpace(l []byte) []byte {
	for len(l) > 0 && (l[0] == ' ' || l[0] == '\t') {
		l = l[1:]
	}
	for len(l) > 0 && (l[len(l)-1] == ' ' || l[len(l)-1] == '\t') {
		l = l[:len(l)-1]
	}
	return l
}

func indexByte(l []byte, c byte) int {
	for i, b := range l {
		if b == c {
			return i
		}
	}
	return -1
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

func parseDecimal(l []byte) (uint64, bool) {
	if len(l) == 0 || len(l) > 19 {
		return 0, false
	}
	var n uint64
	for _, c := range l {
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// equalFold compares an ASCII header name with a lower-case one.
func equalFold(b []byte, lower string) bool {
	if len(b) != len(lower) {
		return false
	}
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// hasToken tells whether a comma-separated header value lists tok (any case).
func hasToken(v []byte, tok string) bool {
	for len(v) > 0 {
		i := indexByte(v, ',')
		if i < 0 {
			i = len(v)
		}
		if equalFold(trimSpace(v[:i]), tok) {
			return true
		}
		if i == len(v) {
			break
		}
		v = v[i+1:]
	}
	return false
}

func lastTokenIs(v []byte, tok string) bool {
	for i := len(v) - 1; i >= 0; i-- {
		if v[i] == ',' {
			v = v[i+1:]
			break
		}
	}
	return equalFold(trimSpace(v), tok)
}
