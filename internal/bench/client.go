package bench

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// HTTPImpl selects the request path of the generator.
type HTTPImpl string

const (
	// RawHTTP is the bench's own HTTP/1.1 keep-alive client (raw.go): one
	// write and, usually, one read syscall per request and no allocation, so
	// the generator takes as little of the machine as it can.
	RawHTTP HTTPImpl = "raw"
	// StdlibHTTP is net/http's Transport, kept to cross-check the raw client
	// and for https endpoints, which the raw client does not speak: its
	// liveness probe reads the socket under the TLS layer, where a TLS 1.3
	// session ticket or a close_notify would look like a broken connection.
	StdlibHTTP HTTPImpl = "stdlib"
)

// Client is the shared HTTP machinery of a run: at most Config.Conns
// connections, spread over the endpoints, either in one net/http Transport or
// in one raw pool per endpoint.
type Client struct {
	endpoints []*url.URL
	impl      HTTPImpl
	tls       *tls.Config     // for https endpoints; nil: Go's defaults
	tr        *http.Transport // stdlib
	pools     []*rawPool      // raw, one per endpoint
	// auth is the Authorization header value every request carries ("" for none).
	auth string
}

// SetBasicAuth makes every request of Conns made afterwards carry HTTP Basic credentials, as
// etcd v2 clients send them.
func (c *Client) SetBasicAuth(user, password string) {
	c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// NewClient builds the pool. In stdlib mode perHostConns caps connections to
// each endpoint so that --conns is a real limit: extra requests queue for a
// connection instead of opening and closing sockets. The raw mode falls back to
// stdlib when an endpoint is https, which tlsCfg (nil: Go's defaults) configures.
func NewClient(endpoints []string, conns int, timeout time.Duration, impl HTTPImpl, tlsCfg *tls.Config) (*Client, error) {
	c := &Client{impl: impl, tls: tlsCfg}
	for _, e := range endpoints {
		u, err := url.Parse(e)
		if err != nil {
			return nil, err
		}
		if u.Scheme != "http" {
			c.impl = StdlibHTTP
		}
		c.endpoints = append(c.endpoints, u)
	}
	if len(c.endpoints) == 0 {
		return nil, errors.New("no endpoints")
	}
	switch c.impl {
	case RawHTTP:
		// Exactly conns connections in all (at least one per endpoint), the
		// remainder going to the first endpoints, as workers are spread.
		n := len(c.endpoints)
		for i, u := range c.endpoints {
			size := max(1, conns/n)
			if conns > n && i < conns%n {
				size++
			}
			c.pools = append(c.pools, newRawPool(u, size, timeout))
		}
	case StdlibHTTP:
		perHost := max(1, (conns+len(endpoints)-1)/len(endpoints))
		c.tr = newTransport(perHost, timeout, tlsCfg)
	default:
		return nil, fmt.Errorf("unknown HTTP client %q (want raw or stdlib)", impl)
	}
	return c, nil
}

func newTransport(perHost int, timeout time.Duration, tlsCfg *tls.Config) *http.Transport {
	return &http.Transport{
		TLSClientConfig:       tlsCfg.Clone(),
		Proxy:                 nil, // a benchmark on loopback must not detour through HTTP_PROXY
		DialContext:           (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          0,
		MaxIdleConnsPerHost:   perHost,
		MaxConnsPerHost:       perHost,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: timeout,
		DisableCompression:    true,
		ForceAttemptHTTP2:     false,
	}
}

// Close drops idle connections.
func (c *Client) Close() {
	if c.tr != nil {
		c.tr.CloseIdleConnections()
	}
	for _, p := range c.pools {
		p.closeIdle()
	}
}

// Endpoints is the number of endpoints.
func (c *Client) Endpoints() int { return len(c.endpoints) }

// Impl is the request path in use (stdlib when raw fell back for https).
func (c *Client) Impl() HTTPImpl { return c.impl }

// Conn is one worker's reusable request state, bound to a context: cancelling
// it aborts the request in flight. Its buffers live as long as the worker, so
// an operation allocates nothing (raw) or only what net/http itself allocates.
type Conn struct {
	ctx context.Context
	std *stdConn // stdlib mode

	// Raw mode: the request and body buffers are the worker's, the connection
	// is checked out of pool for one request at a time.
	pool *rawPool
	wbuf []byte
	body []byte
	auth string // Authorization header value, "" for none
	// stop unregisters abort from ctx.
	stop func() bool
	// mu guards the connection abort may close: it is set only while a
	// request is on it, so a cancel never closes a connection another worker
	// has checked out since.
	mu       sync.Mutex
	active   net.Conn
	canceled bool
}

// NewConn returns a worker's handle on endpoint i (modulo the endpoint count),
// bound to ctx: cancelling ctx aborts its request in flight.
func (c *Client) NewConn(ctx context.Context, i int) *Conn {
	i %= len(c.endpoints)
	if c.tr != nil {
		w := newConn(ctx, c.tr, c.endpoints[i])
		if c.auth != "" {
			w.std.req.Header["Authorization"] = []string{c.auth}
		}
		return w
	}
	w := &Conn{ctx: ctx, pool: c.pools[i], auth: c.auth}
	w.stop = context.AfterFunc(ctx, w.abort)
	return w
}

// Close releases the Conn's hold on its context; the Conn must not be used
// afterwards. Only a Conn that outlives its purpose on a long-lived context
// needs it.
func (w *Conn) Close() {
	if w.stop != nil {
		w.stop()
	}
}

// Response is the part of a reply the workloads look at. Body is valid only
// until the Conn's next call.
type Response struct {
	Status int
	Index  uint64 // X-Etcd-Index
	Body   []byte
}

// Do sends one request for key (a store path such as /bench/k01) and reads the
// whole reply, so the connection can carry the next one.
func (w *Conn) Do(method, key, query string, form []byte) (Response, error) {
	if w.std != nil {
		return w.std.do(method, key, query, form)
	}
	return w.doRaw(method, key, query, form)
}

var errStreamNeedsStdlib = errors.New("bench: a streaming request needs the net/http client")

// Open sends a GET whose reply is read incrementally (a streaming watch). The
// caller closes the returned body. Only net/http Conns stream.
func (w *Conn) Open(key, query string) (*http.Response, error) {
	if w.std == nil {
		return nil, errStreamNeedsStdlib
	}
	return w.std.open(key, query)
}

// stdConn is the net/http request path: the request, its body reader and the
// response buffer are reused, so an operation allocates only what net/http
// itself allocates.
type stdConn struct {
	rt   http.RoundTripper
	req  *http.Request
	body reusableBody
	resp bytes.Buffer
	path []byte
	form []byte
	// replay is getBody bound once: a method value made per request would allocate.
	replay func() (io.ReadCloser, error)
}

// newConn returns a net/http Conn on ep, whatever the client's mode: watchers
// stream, which only net/http does here.
func newConn(ctx context.Context, rt http.RoundTripper, ep *url.URL) *Conn {
	s := &stdConn{rt: rt}
	s.replay = s.getBody
	u := *ep
	s.req = (&http.Request{
		Method:     http.MethodGet,
		URL:        &u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
		Host:       u.Host,
	}).WithContext(ctx)
	return &Conn{ctx: ctx, std: s}
}

// getBody lets the Transport replay a body when a pooled connection turned out
// to be closed by the server before the request went out.
func (s *stdConn) getBody() (io.ReadCloser, error) {
	s.body.Reset(s.form)
	return &s.body, nil
}

type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

var formHeader = []string{"application/x-www-form-urlencoded"}

func (s *stdConn) do(method, key, query string, form []byte) (Response, error) {
	s.path = append(append(s.path[:0], "/v2/keys"...), key...)
	r := s.req
	r.Method = method
	r.URL.Path = string(s.path)
	r.URL.RawQuery = query
	if form != nil {
		s.body.Reset(form)
		r.Body = &s.body
		r.ContentLength = int64(len(form))
		s.form = form
		r.GetBody = s.replay
		r.Header["Content-Type"] = formHeader
	} else {
		r.Body = nil
		r.ContentLength = 0
		r.GetBody = nil
		delete(r.Header, "Content-Type")
	}
	resp, err := s.rt.RoundTrip(r)
	if err != nil {
		return Response{}, err
	}
	s.resp.Reset()
	_, err = s.resp.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return Response{}, err
	}
	idx, _ := strconv.ParseUint(resp.Header.Get("X-Etcd-Index"), 10, 64)
	return Response{Status: resp.StatusCode, Index: idx, Body: s.resp.Bytes()}, nil
}

func (s *stdConn) open(key, query string) (*http.Response, error) {
	s.path = append(append(s.path[:0], "/v2/keys"...), key...)
	r := s.req
	r.Method = http.MethodGet
	r.URL.Path = string(s.path)
	r.URL.RawQuery = query
	r.Body, r.ContentLength, r.GetBody = nil, 0, nil
	delete(r.Header, "Content-Type")
	return s.rt.RoundTrip(r)
}
