package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/api"
)

// Consistency of reads.
type Consistency int

const (
	// Linearizable reads see every write acknowledged before they started (the default).
	Linearizable Consistency = iota
	// Serializable reads are served from the chosen node's state, possibly stale, faster.
	Serializable
)

// ReplicaPolicy chooses the node for reads; writes always go to the leader.
type ReplicaPolicy int

const (
	// PreferRack reads from the first rack of PreferringRacks with a usable node, in order,
	// then from any node.
	PreferRack ReplicaPolicy = iota
	// ReplicaLeader reads from the leader.
	ReplicaLeader
	// ReplicaAny spreads reads over every usable node.
	ReplicaAny
)

// Behavior is what a session does with each operation.
type Behavior struct {
	// Timeout bounds one operation, retries included (watches excepted).
	Timeout time.Duration
	// MaxRetries is how many times an operation that is safe to repeat (a read, or a write
	// that provably never reached a server) is tried again, BackoffBase apart, doubling.
	MaxRetries  int
	BackoffBase time.Duration
	Consistency Consistency
	Replica     ReplicaPolicy
}

// DefaultBehavior: 5s, 3 retries from 25ms, linearizable reads, preferred racks.
var DefaultBehavior = Behavior{Timeout: 5 * time.Second, MaxRetries: 3, BackoffBase: 25 * time.Millisecond,
	Consistency: Linearizable, Replica: PreferRack}

// Session runs operations on a cluster with one Behavior. It is cheap and safe for concurrent use.
type Session struct {
	c *Cluster
	b Behavior
}

// CreateSession returns a session with behavior b.
func (c *Cluster) CreateSession(b Behavior) *Session {
	if b.Timeout <= 0 {
		b.Timeout = DefaultBehavior.Timeout
	}
	if b.BackoffBase <= 0 {
		b.BackoffBase = DefaultBehavior.BackoffBase
	}
	return &Session{c: c, b: b}
}

// pick chooses a node for an operation, skipping those in tried while others remain.
func (c *Cluster) pick(write bool, policy ReplicaPolicy, tried map[*node]bool) (*node, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	// usable are the nodes to choose from; open those in service whose breaker is open;
	// closed counts those in service whose breaker is closed, tried or not.
	var usable, open []*node
	closed := 0
	for _, n := range c.nodes {
		if !n.usable() {
			continue
		}
		if n.breakerOpen() {
			open = append(open, n)
			continue
		}
		closed++
		if !tried[n] {
			usable = append(usable, n)
		}
	}
	if len(usable) == 0 {
		if len(c.nodes) == 0 {
			return nil, fmt.Errorf("%w: the client knows no node yet", ErrNoNodes)
		}
		if closed == 0 && len(open) > 0 {
			return nil, circuitOpenError(open, c.settings)
		}
		return nil, fmt.Errorf("%w: none of %d known nodes is reachable and in service%s", ErrNoNodes,
			len(c.nodes), c.nodeErrorsLocked())
	}
	// Stable order, so that round robin and rack fallback are predictable.
	sortNodes(usable)
	if write || policy == ReplicaLeader {
		for _, n := range usable {
			if n.name == c.leader {
				return n, nil
			}
		}
		// A follower relays writes to the leader in one hop.
	}
	if !write && policy == PreferRack {
		for _, r := range c.def.racks {
			var in []*node
			for _, n := range usable {
				n.mu.Lock()
				if n.rack == r {
					in = append(in, n)
				}
				n.mu.Unlock()
			}
			if len(in) > 0 {
				c.rr++
				return in[c.rr%uint64(len(in))], nil
			}
		}
	}
	c.rr++
	return usable[c.rr%uint64(len(usable))], nil
}

// nodeErrorsLocked lists why known nodes are out of use (a refused certificate, a status the
// cluster gave them), so that ErrNoNodes says more than that nothing works.
func (c *Cluster) nodeErrorsLocked() string {
	var out []string
	for _, n := range c.nodes {
		n.mu.Lock()
		switch {
		case n.lastErr != nil:
			out = append(out, n.name+": "+n.lastErr.Error())
		case n.status != api.StatusOnline && n.status != "":
			out = append(out, n.name+": "+n.status+": "+n.message)
		}
		n.mu.Unlock()
	}
	if len(out) == 0 {
		return ""
	}
	sort.Strings(out)
	return " (" + strings.Join(out, "; ") + ")"
}

func sortNodes(ns []*node) {
	for i := 1; i < len(ns); i++ {
		for j := i; j > 0 && ns[j].name < ns[j-1].name; j-- {
			ns[j], ns[j-1] = ns[j-1], ns[j]
		}
	}
}

// request is one HTTP call to be routed.
type request struct {
	method string
	path   string // includes the query
	body   url.Values
	json   []byte
	write  bool
	// safe operations may be repeated after any failure; others only when not sent.
	safe bool
}

// reply is a finished HTTP exchange.
type reply struct {
	status int
	header http.Header
	body   []byte
	node   string
}

// do routes r with retries and returns the reply of the first node that answered.
func (s *Session) do(ctx context.Context, r request) (*reply, error) {
	if s.c.ctx.Err() != nil {
		return nil, ErrClosed
	}
	ctx, cancel := context.WithTimeout(ctx, s.b.Timeout)
	defer cancel()
	tried := map[*node]bool{}
	backoff := s.b.BackoffBase
	var last error
	relogged := false
	for attempt := 0; ; attempt++ {
		rep, retry, err := s.once(ctx, r, tried, &relogged)
		if err == nil {
			return rep, nil
		}
		if errors.Is(err, errLoggedInAgain) {
			attempt-- // a fresh login is no failure: send again at once
			continue
		}
		last = err
		if !retry || attempt >= s.b.MaxRetries || ctx.Err() != nil {
			return nil, last
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, last
		case <-s.c.ctx.Done():
			t.Stop()
			return nil, ErrClosed
		case <-t.C:
		}
		backoff *= 2
	}
}

func (s *Session) once(ctx context.Context, r request, tried map[*node]bool, relogged *bool) (*reply, bool, error) {
	n, err := s.c.pick(r.write, s.b.Replica, tried)
	if errors.Is(err, ErrCircuitOpen) {
		// Failing fast is the breaker's point: no retry until a window has passed.
		return nil, false, err
	}
	if err != nil {
		if len(tried) > 0 {
			clear(tried) // every node failed once: start over after the backoff
		}
		s.c.requestRefresh()
		return nil, true, err
	}
	if err := n.acquire(); err != nil {
		tried[n] = true
		return nil, true, err
	}
	defer n.release()
	// Closing the cluster ends requests in flight too.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(s.c.ctx, cancel)()
	resp, err := s.c.send(ctx, n, r)
	if err != nil {
		tried[n] = true
		if nodeFault(ctx) {
			n.failed(err, s.c.settings)
			s.c.requestRefresh()
		}
		var op *net.OpError
		notSent := errors.As(err, &op) && op.Op == "dial"
		return nil, r.safe || notSent, fmt.Errorf("node %s: %w", n.name, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		tried[n] = true
		if nodeFault(ctx) {
			n.failed(err, s.c.settings)
		}
		return nil, r.safe, fmt.Errorf("node %s: %w", n.name, err)
	}
	rep := &reply{status: resp.StatusCode, header: resp.Header, body: body, node: resp.Header.Get("X-Cairn-Node")}
	if rep.node == "" {
		rep.node = n.name
	}
	if s.c.loginAgain(rep) && !*relogged {
		// The token expired, or auth was turned on since the last login: nothing was applied
		// (the refusal comes first), so log in again and send the request once more.
		*relogged = true
		s.c.auth.retried.Add(1)
		if err := s.c.relogin(ctx, n); err != nil {
			return nil, false, err
		}
		return nil, true, errLoggedInAgain
	}
	if r.write && n.name != s.c.Leader() {
		// Relayed by a follower: the client's idea of the leader is stale.
		s.c.requestRefresh()
	}
	if resp.StatusCode >= 500 {
		// Leader election or a relay that failed: the member list may have moved. A 5xx is
		// the node's failure, unlike a 4xx, which answers the request (not found, compare
		// failed, refused).
		n.answeredBadly(s.c.settings)
		s.c.requestRefresh()
		tried[n] = true
		return nil, r.safe, replyError(rep)
	}
	return rep, false, nil
}

func (c *Cluster) send(ctx context.Context, n *node, r request) (*http.Response, error) {
	var body io.Reader
	ct := ""
	switch {
	case r.json != nil:
		body, ct = strings.NewReader(string(r.json)), "application/json"
	case r.body != nil:
		body, ct = strings.NewReader(r.body.Encode()), "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, r.method, n.addr+r.path, body)
	if err != nil {
		return nil, err
	}
	c.auth.authorize(req)
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := c.httpClient(n.tlsName).Do(req)
	if err != nil {
		return nil, c.tlsError(err, n.endpoint())
	}
	return resp, nil
}

// replyError turns a failed reply into an *Error (v2 body) or a plain error.
func replyError(rep *reply) error {
	var e struct {
		ErrorCode int    `json:"errorCode"`
		Message   string `json:"message"`
		Cause     string `json:"cause"`
		Index     uint64 `json:"index"`
		Error     string `json:"error"`
	}
	if json.Unmarshal(rep.body, &e) == nil && e.ErrorCode != 0 && e.Message != "" {
		return &Error{Code: e.ErrorCode, Message: e.Message, Cause: e.Cause, Index: e.Index, Node: rep.node}
	}
	msg := strings.TrimSpace(string(rep.body))
	if e.Error != "" {
		msg = e.Error
	} else if e.Message != "" {
		msg = e.Message
	}
	if rep.status == http.StatusUnauthorized {
		// Outside /v2/keys etcd answers refusals with {"message":...}: the same ErrUnauthorized.
		return &Error{Code: api.CodeUnauthorized, Message: api.Message(api.CodeUnauthorized), Cause: msg, Node: rep.node}
	}
	return fmt.Errorf("cairn: node %s: HTTP %d: %s", rep.node, rep.status, msg)
}

func headerIndex(h http.Header) uint64 {
	i, _ := strconv.ParseUint(h.Get("X-Etcd-Index"), 10, 64)
	return i
}
