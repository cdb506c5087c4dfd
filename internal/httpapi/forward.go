package httpapi

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/cairn-io/cairn/internal/relay"
)

// forwarder relays leader-only requests from a follower to the leader's peer port, in one hop:
// keys writes over the binary relay (relay.go) when there is one, everything else as HTTP
// requests over a pool of keep-alive connections.
type forwarder struct {
	b      Backend
	client *http.Client
	relay  *relay.Client
}

// retryPause spaces out retries while leadership moves; it bounds the retry rate, the request's
// own deadline bounds the total.
const retryPause = 20 * time.Millisecond

func newForwarder(b Backend, timeout time.Duration, dial func(context.Context, string, string) (net.Conn, error),
	peerTLS *tls.Config, rc *relay.Client) *forwarder {
	if dial == nil {
		dial = (&net.Dialer{Timeout: timeout, KeepAlive: 30 * time.Second}).DialContext
	}
	tr := &http.Transport{
		DialContext:         dial,
		TLSClientConfig:     peerTLS,
		MaxIdleConns:        1024,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	return &forwarder{b: b, client: &http.Client{Transport: tr}, relay: rc}
}

// forward relays r to the leader and copies the answer back. It retries only when the request
// provably did not reach a leader's log: the dial failed, or the node it reached was no longer
// leader and said so. A request that may have been applied is never sent twice.
func (f *forwarder) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, body []byte) {
	for {
		leader, err := f.b.WaitLeader(ctx)
		if err != nil {
			writeKeyError(w, err)
			return
		}
		req, err := http.NewRequestWithContext(ctx, r.Method, leader+r.URL.RequestURI(), bytes.NewReader(body))
		if err != nil {
			writeKeyError(w, err)
			return
		}
		if ct := r.Header.Get("Content-Type"); ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		req.Header.Set(headerForwarded, f.b.Name())
		resp, err := f.client.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				writeKeyError(w, ctx.Err())
				return
			}
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" {
				if !pause(ctx) {
					writeKeyError(w, ctx.Err())
					return
				}
				continue
			}
			writeKeyError(w, err)
			return
		}
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(headerNotLeader) != "" {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if !pause(ctx) {
				writeKeyError(w, ctx.Err())
				return
			}
			continue
		}
		if err := f.waitApplied(ctx, resp.Header.Get(headerApplied)); err != nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			writeKeyError(w, err)
			return
		}
		copyResponse(w, resp)
		return
	}
}

var relayedHeaders = []string{"Content-Type", "X-Etcd-Index", "X-Raft-Index", "X-Raft-Term", "Allow", "X-Content-Type-Options"}

func copyResponse(w http.ResponseWriter, resp *http.Response) {
	defer resp.Body.Close()
	for _, k := range relayedHeaders {
		if v := resp.Header.Get(k); v != "" {
			w.Header().Set(k, v)
		}
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = io.Copy(w, resp.Body)
}

func pause(ctx context.Context) bool {
	t := time.NewTimer(retryPause)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
