package bench

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Client is the shared HTTP machinery of a run: one Transport whose pool holds
// at most Config.Conns connections, spread over the endpoints.
type Client struct {
	endpoints []*url.URL
	tr        *http.Transport
}

// NewClient builds the pool. perHostConns caps connections to each endpoint so
// that --conns is a real limit: extra requests queue for a connection instead
// of opening and closing sockets.
func NewClient(endpoints []string, conns int, timeout time.Duration) (*Client, error) {
	c := &Client{}
	for _, e := range endpoints {
		u, err := url.Parse(e)
		if err != nil {
			return nil, err
		}
		c.endpoints = append(c.endpoints, u)
	}
	perHost := max(1, (conns+len(endpoints)-1)/len(endpoints))
	c.tr = newTransport(perHost, timeout)
	return c, nil
}

func newTransport(perHost int, timeout time.Duration) *http.Transport {
	return &http.Transport{
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
func (c *Client) Close() { c.tr.CloseIdleConnections() }

// Endpoints is the number of endpoints.
func (c *Client) Endpoints() int { return len(c.endpoints) }

// Conn is one worker's reusable request state: the request, its body reader and
// the response buffer live as long as the worker, so an operation allocates
// only what net/http itself allocates.
type Conn struct {
	rt   http.RoundTripper
	req  *http.Request
	body reusableBody
	resp bytes.Buffer
	path []byte
	form []byte
	// replay is getBody bound once: a method value made per request would allocate.
	replay func() (io.ReadCloser, error)
}

// NewConn returns a worker's handle on endpoint i (modulo the endpoint count),
// bound to ctx: cancelling ctx aborts its request in flight.
func (c *Client) NewConn(ctx context.Context, i int) *Conn {
	return newConn(ctx, c.tr, c.endpoints[i%len(c.endpoints)])
}

func newConn(ctx context.Context, rt http.RoundTripper, ep *url.URL) *Conn {
	w := &Conn{rt: rt}
	w.replay = w.getBody
	u := *ep
	w.req = (&http.Request{
		Method:     http.MethodGet,
		URL:        &u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     http.Header{},
		Host:       u.Host,
	}).WithContext(ctx)
	return w
}

// getBody lets the Transport replay a body when a pooled connection turned out
// to be closed by the server before the request went out.
func (w *Conn) getBody() (io.ReadCloser, error) {
	w.body.Reset(w.form)
	return &w.body, nil
}

type reusableBody struct{ bytes.Reader }

func (*reusableBody) Close() error { return nil }

// Response is the part of a reply the workloads look at. Body is valid only
// until the Conn's next call.
type Response struct {
	Status int
	Index  uint64 // X-Etcd-Index
	Body   []byte
}

var formHeader = []string{"application/x-www-form-urlencoded"}

// Do sends one request for key (a store path such as /bench/k01) and reads the
// whole reply, so the connection goes back to the pool.
func (w *Conn) Do(method, key, query string, form []byte) (Response, error) {
	w.path = append(append(w.path[:0], "/v2/keys"...), key...)
	r := w.req
	r.Method = method
	r.URL.Path = string(w.path)
	r.URL.RawQuery = query
	if form != nil {
		w.body.Reset(form)
		r.Body = &w.body
		r.ContentLength = int64(len(form))
		w.form = form
		r.GetBody = w.replay
		r.Header["Content-Type"] = formHeader
	} else {
		r.Body = nil
		r.ContentLength = 0
		r.GetBody = nil
		delete(r.Header, "Content-Type")
	}
	resp, err := w.rt.RoundTrip(r)
	if err != nil {
		return Response{}, err
	}
	w.resp.Reset()
	_, err = w.resp.ReadFrom(resp.Body)
	resp.Body.Close()
	if err != nil {
		return Response{}, err
	}
	idx, _ := strconv.ParseUint(resp.Header.Get("X-Etcd-Index"), 10, 64)
	return Response{Status: resp.StatusCode, Index: idx, Body: w.resp.Bytes()}, nil
}

// Open sends a GET whose reply is read incrementally (a streaming watch). The
// caller closes the returned body.
func (w *Conn) Open(key, query string) (*http.Response, error) {
	w.path = append(append(w.path[:0], "/v2/keys"...), key...)
	r := w.req
	r.Method = http.MethodGet
	r.URL.Path = string(w.path)
	r.URL.RawQuery = query
	r.Body, r.ContentLength, r.GetBody = nil, 0, nil
	delete(r.Header, "Content-Type")
	return w.rt.RoundTrip(r)
}
