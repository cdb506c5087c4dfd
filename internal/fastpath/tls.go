package fastpath

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"time"
)

// handshake completes a TLS connection's handshake before the first request is read, so the
// handler sees the connection state (the verified client certificate) on the fast path as it
// would under net/http. Plain HTTP sent to the TLS port gets net/http's answer to it.
func (c *conn) handshake(tc *tls.Conn) (*tls.ConnectionState, bool) {
	_ = tc.SetDeadline(time.Now().Add(c.srv.ReadTimeout))
	err := tc.HandshakeContext(c.req.base.Context())
	if err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader[:]) {
			_, _ = re.Conn.Write([]byte("HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n"))
		}
		return nil, false
	}
	_ = tc.SetDeadline(time.Time{})
	state := tc.ConnectionState()
	return &state, true
}

func looksLikeHTTP(hdr []byte) bool {
	switch string(hdr) {
	case "GET /", "HEAD ", "POST ", "PUT /", "DELET", "OPTIO", "PATCH":
		return true
	}
	return false
}

type tlsStateKey struct{}

// keepTLSState makes the fallback server's requests carry the TLS state of connections the
// fast path handed over: net/http only fills Request.TLS for a *tls.Conn it accepted itself,
// and a handed-over connection is a wrapper around one whose handshake is already done.
func keepTLSState(srv *http.Server) {
	if srv == nil {
		return
	}
	prevConnContext := srv.ConnContext
	srv.ConnContext = func(ctx context.Context, nc net.Conn) context.Context {
		if prevConnContext != nil {
			ctx = prevConnContext(ctx, nc)
		}
		if hc, ok := nc.(*handoffConn); ok && hc.tls != nil {
			ctx = context.WithValue(ctx, tlsStateKey{}, hc.tls)
		}
		return ctx
	}
	next := srv.Handler
	if next == nil {
		next = http.DefaultServeMux
	}
	srv.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok {
				r = r.WithContext(r.Context())
				r.TLS = st
			}
		}
		next.ServeHTTP(w, r)
	})
}
