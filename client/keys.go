package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/api"
)

// Node is a key or a directory.
type Node struct {
	Key           string
	Value         string
	Dir           bool
	TTL           int64 // seconds left; 0 for a permanent key
	Expiration    *time.Time
	CreatedIndex  uint64
	ModifiedIndex uint64
	Nodes         []*Node // a directory's children (Get with Recursive, List)
}

// Response is the answer to a key operation.
type Response struct {
	Action   string // get, set, create, update, delete, compareAndSwap, compareAndDelete, expire
	Node     *Node
	PrevNode *Node
	// Index is the store index the answer reflects (X-Etcd-Index).
	Index uint64
	// ServedBy is the member that answered (X-Cairn-Node).
	ServedBy string
}

// Option adjusts one operation. GetOption, PutOption, DeleteOption and WatchOption name where
// each is meaningful; the server refuses contradictory combinations with ErrInvalidField.
type Option func(*opts)

type (
	GetOption    = Option
	PutOption    = Option
	DeleteOption = Option
	WatchOption  = Option
)

type opts struct {
	ttl         time.Duration
	hasTTL      bool
	prevExist   *bool
	prevValue   *string
	prevIndex   uint64
	recursive   bool
	sorted      bool
	dir         bool
	waitIndex   uint64
	consistency *Consistency
}

// WithTTL makes a key or directory expire after d (whole seconds, rounded up).
func WithTTL(d time.Duration) Option { return func(o *opts) { o.ttl, o.hasTTL = d, true } }

// PrevExist(false) creates only; PrevExist(true) updates only.
func PrevExist(exist bool) Option { return func(o *opts) { o.prevExist = &exist } }

// PrevValue makes a write or delete conditional on the current value.
func PrevValue(v string) Option { return func(o *opts) { o.prevValue = &v } }

// PrevIndex makes a write or delete conditional on the current modified index.
func PrevIndex(i uint64) Option { return func(o *opts) { o.prevIndex = i } }

// Recursive: a Get returns the whole subtree, a Delete removes one, a Watch sees one.
func Recursive() Option { return func(o *opts) { o.recursive = true } }

// Sorted orders a directory's children by key.
func Sorted() Option { return func(o *opts) { o.sorted = true } }

// WaitIndex makes a Watch start at index i (inclusive) instead of the next event.
func WaitIndex(i uint64) Option { return func(o *opts) { o.waitIndex = i } }

// WithConsistency overrides the session's read consistency for one read.
func WithConsistency(c Consistency) Option { return func(o *opts) { o.consistency = &c } }

func collect(os []Option) opts {
	var o opts
	for _, f := range os {
		f(&o)
	}
	return o
}

func keyPath(key string, q url.Values) string {
	if !strings.HasPrefix(key, "/") {
		key = "/" + key
	}
	p := "/v2/keys" + (&url.URL{Path: key}).EscapedPath()
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	return p
}

func (o opts) writeForm() url.Values {
	f := url.Values{}
	if o.hasTTL {
		f.Set("ttl", strconv.FormatInt(int64((o.ttl+time.Second-1)/time.Second), 10))
	}
	if o.prevExist != nil {
		f.Set("prevExist", strconv.FormatBool(*o.prevExist))
	}
	if o.prevValue != nil {
		f.Set("prevValue", *o.prevValue)
	}
	if o.prevIndex != 0 {
		f.Set("prevIndex", strconv.FormatUint(o.prevIndex, 10))
	}
	return f
}

// wireNode is store.NodeExtern's JSON.
type wireNode struct {
	Key           string      `json:"key"`
	Value         *string     `json:"value"`
	Dir           bool        `json:"dir"`
	Expiration    *time.Time  `json:"expiration"`
	TTL           int64       `json:"ttl"`
	Nodes         []*wireNode `json:"nodes"`
	ModifiedIndex uint64      `json:"modifiedIndex"`
	CreatedIndex  uint64      `json:"createdIndex"`
}

func (w *wireNode) node() *Node {
	if w == nil {
		return nil
	}
	n := &Node{Key: w.Key, Dir: w.Dir, TTL: w.TTL, Expiration: w.Expiration,
		CreatedIndex: w.CreatedIndex, ModifiedIndex: w.ModifiedIndex}
	if w.Value != nil {
		n.Value = *w.Value
	}
	for _, c := range w.Nodes {
		n.Nodes = append(n.Nodes, c.node())
	}
	return n
}

type wireEvent struct {
	Action   string    `json:"action"`
	Node     *wireNode `json:"node"`
	PrevNode *wireNode `json:"prevNode"`
}

func decodeResponse(rep *reply) (*Response, error) {
	if rep.status/100 != 2 {
		return nil, replyError(rep)
	}
	var ev wireEvent
	if err := json.Unmarshal(rep.body, &ev); err != nil {
		return nil, fmt.Errorf("cairn: node %s: decoding answer: %w", rep.node, err)
	}
	return &Response{Action: ev.Action, Node: ev.Node.node(), PrevNode: ev.PrevNode.node(),
		Index: headerIndex(rep.header), ServedBy: rep.node}, nil
}

func (s *Session) keyOp(ctx context.Context, r request) (*Response, error) {
	rep, err := s.do(ctx, r)
	if err != nil {
		return nil, err
	}
	return decodeResponse(rep)
}

func (s *Session) readQuery(o opts) url.Values {
	q := url.Values{}
	if o.recursive {
		q.Set("recursive", "true")
	}
	if o.sorted {
		q.Set("sorted", "true")
	}
	c := s.b.Consistency
	if o.consistency != nil {
		c = *o.consistency
	}
	if c == Serializable {
		q.Set("consistency", "serializable")
	}
	return q
}

// Get reads a key, or a directory (its children with Recursive).
func (s *Session) Get(ctx context.Context, key string, options ...GetOption) (*Response, error) {
	o := collect(options)
	return s.keyOp(ctx, request{method: http.MethodGet, path: keyPath(key, s.readQuery(o)), safe: true})
}

// List reads a directory's whole subtree, sorted.
func (s *Session) List(ctx context.Context, dir string, options ...GetOption) (*Response, error) {
	return s.Get(ctx, dir, append([]Option{Recursive(), Sorted()}, options...)...)
}

// Put sets a key's value (WithTTL, PrevExist, PrevValue, PrevIndex make it conditional).
func (s *Session) Put(ctx context.Context, key, value string, options ...PutOption) (*Response, error) {
	f := collect(options).writeForm()
	f.Set("value", value)
	return s.keyOp(ctx, request{method: http.MethodPut, path: keyPath(key, nil), body: f, write: true})
}

// CompareAndSwap sets key to value only if PrevValue and/or PrevIndex (at least one) match.
func (s *Session) CompareAndSwap(ctx context.Context, key, value string, options ...PutOption) (*Response, error) {
	o := collect(options)
	if o.prevValue == nil && o.prevIndex == 0 {
		return nil, fmt.Errorf("%w: CompareAndSwap needs PrevValue or PrevIndex", ErrInvalidArgument)
	}
	return s.Put(ctx, key, value, options...)
}

// Delete removes a key (a directory with Recursive).
func (s *Session) Delete(ctx context.Context, key string, options ...DeleteOption) (*Response, error) {
	o := collect(options)
	q := o.writeForm()
	q.Del("ttl")
	if o.recursive {
		q.Set("recursive", "true")
	}
	if o.dir {
		q.Set("dir", "true")
	}
	return s.keyOp(ctx, request{method: http.MethodDelete, path: keyPath(key, q), write: true})
}

// CompareAndDelete removes key only if PrevValue and/or PrevIndex (at least one) match.
func (s *Session) CompareAndDelete(ctx context.Context, key string, options ...DeleteOption) (*Response, error) {
	o := collect(options)
	if o.prevValue == nil && o.prevIndex == 0 {
		return nil, fmt.Errorf("%w: CompareAndDelete needs PrevValue or PrevIndex", ErrInvalidArgument)
	}
	return s.Delete(ctx, key, options...)
}

// Mkdir creates a directory; it fails with ErrNodeExist if the key exists.
func (s *Session) Mkdir(ctx context.Context, key string, options ...PutOption) (*Response, error) {
	f := collect(append([]Option{PrevExist(false)}, options...)).writeForm()
	f.Set("dir", "true")
	return s.keyOp(ctx, request{method: http.MethodPut, path: keyPath(key, nil), body: f, write: true})
}

// Rmdir removes a directory: an empty one, or everything under it with Recursive.
func (s *Session) Rmdir(ctx context.Context, key string, options ...DeleteOption) (*Response, error) {
	return s.Delete(ctx, key, append([]Option{func(o *opts) { o.dir = true }}, options...)...)
}

// Refresh resets an existing key's TTL without changing its value or notifying watchers.
func (s *Session) Refresh(ctx context.Context, key string, ttl time.Duration, options ...PutOption) (*Response, error) {
	f := collect(append(options, WithTTL(ttl), PrevExist(true))).writeForm()
	f.Set("refresh", "true")
	return s.keyOp(ctx, request{method: http.MethodPut, path: keyPath(key, nil), body: f, write: true})
}

// Version is the answering node's /version.
func (s *Session) Version(ctx context.Context) (api.Version, error) {
	var v api.Version
	rep, err := s.do(ctx, request{method: http.MethodGet, path: "/version", safe: true})
	if err != nil {
		return v, err
	}
	if rep.status != http.StatusOK {
		return v, replyError(rep)
	}
	return v, json.Unmarshal(rep.body, &v)
}

// Health checks a node chosen as for reads: it has a leader and completes a linearizable read.
// It returns the node's name; the error says why it is unhealthy.
func (s *Session) Health(ctx context.Context) (string, error) {
	rep, err := s.do(ctx, request{method: http.MethodGet, path: "/health", safe: true})
	if err != nil {
		return "", err
	}
	var h struct {
		Health string `json:"health"`
	}
	if rep.status != http.StatusOK || json.Unmarshal(rep.body, &h) != nil || h.Health != "true" {
		return rep.node, fmt.Errorf("cairn: node %s is unhealthy: HTTP %d %s", rep.node, rep.status, strings.TrimSpace(string(rep.body)))
	}
	return rep.node, nil
}
