package fastpath

import (
	"net/http"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// response collects one answer and frames it with a Content-Length, so it leaves in a single
// write. It implements http.ResponseWriter only: handlers that stream (http.Flusher) are never
// routed here.
type response struct {
	header      http.Header
	status      int
	wroteHeader bool
	body        []byte
	out         []byte
	keys        []string
}

func (w *response) init() {
	w.header = make(http.Header, 16)
}

func (w *response) reset() {
	clear(w.header)
	w.status, w.wroteHeader = 0, false
	w.body = w.body[:0]
	if cap(w.body) > 64<<10 {
		w.body = nil
	}
	if cap(w.out) > 64<<10 {
		w.out = nil
	}
}

func (w *response) Header() http.Header { return w.header }

func (w *response) WriteHeader(code int) {
	if w.wroteHeader || code < 200 {
		// Informational answers are not sent on this path; net/http would send them early.
		return
	}
	w.wroteHeader = true
	w.status = code
}

func (w *response) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

// WriteString lets io.WriteString and fmt skip a conversion.
func (w *response) WriteString(s string) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.body = append(w.body, s...)
	return len(s), nil
}

// finish renders the status line, the headers (sorted, as net/http writes them), Date,
// Content-Length and the body.
func (w *response) finish(method string) []byte {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	bodyAllowed := w.status != http.StatusNoContent && w.status != http.StatusNotModified
	if bodyAllowed && len(w.body) > 0 && w.header.Get("Content-Type") == "" {
		w.header.Set("Content-Type", http.DetectContentType(w.body))
	}
	b := append(w.out[:0], "HTTP/1.1 "...)
	b = strconv.AppendInt(b, int64(w.status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(w.status)...)
	b = append(b, "\r\n"...)
	w.keys = w.keys[:0]
	for k := range w.header {
		switch k {
		case "Content-Length", "Date", "Transfer-Encoding", "Connection":
			// Framing is ours to decide.
			continue
		}
		w.keys = append(w.keys, k)
	}
	slices.Sort(w.keys)
	for _, k := range w.keys {
		for _, v := range w.header[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			b = appendSanitized(b, v)
			b = append(b, "\r\n"...)
		}
	}
	b = append(b, "Date: "...)
	b = append(b, httpDate()...)
	b = append(b, "\r\n"...)
	if bodyAllowed {
		b = append(b, "Content-Length: "...)
		b = strconv.AppendInt(b, int64(len(w.body)), 10)
		b = append(b, "\r\n"...)
	}
	b = append(b, "\r\n"...)
	if bodyAllowed && method != http.MethodHead {
		b = append(b, w.body...)
	}
	w.out = b
	return b
}

// appendSanitized writes a header value with CR and LF replaced by spaces, as net/http does, so
// a value can never end the header block early.
func appendSanitized(b []byte, v string) []byte {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// dateCache holds the Date header for the current second; one format per second, not per answer.
var dateCache atomic.Pointer[cachedDate]

type cachedDate struct {
	sec int64
	s   string
}

func httpDate() string {
	now := time.Now()
	if d := dateCache.Load(); d != nil && d.sec == now.Unix() {
		return d.s
	}
	d := &cachedDate{sec: now.Unix(), s: now.UTC().Format(http.TimeFormat)}
	dateCache.Store(d)
	return d.s
}
