package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cairn-io/cairn/api"
)

// NodeInfo is one node as the client sees it.
type NodeInfo struct {
	Name    string
	Address string // the base URL the client dials
	Rack    int
	// Status and Message are the cluster's word on the member (api.StatusOnline, ...).
	Status  string
	Message string
	Leader  bool
	// Reachable is false while the client cannot talk to the node; Err says why.
	Reachable bool
	Err       string
}

// node is a member the client talks to.
type node struct {
	name string
	addr string // base URL dialled; "" when the member advertises none the client may use
	// tlsName is the name its certificate must be valid for (TLS only).
	tlsName string
	who     string
	// dial is the host:port dialled for addr, whose open connections connCounter counts.
	dial string
	// slots bounds concurrent requests; a full channel is ErrPoolExhausted.
	slots chan struct{}

	mu        sync.Mutex
	rack      int
	status    string
	message   string
	reachable bool
	lastErr   error
	// errAt holds the times of the node errors (timeouts, transport errors, 5xx answers)
	// within the last ErrorRateWindow, oldest first; it never holds more than MaxErrorRate+1.
	errAt []time.Time
	// openUntil is when an open breaker closes again (zero: closed).
	openUntil time.Time
	// warming is set while warm runs; lastWarm is when it last ran.
	warming  bool
	lastWarm time.Time
}

func newNode(name string, ep endpoint, max int) *node {
	return &node{name: name, addr: ep.base, tlsName: ep.tlsName, who: ep.who, dial: dialAddr(ep.base),
		slots: make(chan struct{}, max)}
}

func (n *node) endpoint() endpoint { return endpoint{base: n.addr, tlsName: n.tlsName, who: n.who} }

func (n *node) acquire() error {
	select {
	case n.slots <- struct{}{}:
		return nil
	default:
		return fmt.Errorf("%w: node %s has all %d connections in use (MaxConnectionsPerNode)",
			ErrPoolExhausted, n.name, cap(n.slots))
	}
}

func (n *node) release() { <-n.slots }

// failed records a transport failure or timeout: the node is unreachable until the tender
// reaches it again, and the failure counts for its breaker.
func (n *node) failed(err error, s SystemSettings) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.reachable, n.lastErr = false, withoutRequestURL(err, n.addr)
	n.countErrLocked(time.Now(), s)
}

// withoutRequestURL replaces the request's URL in err, which holds the request's key and
// query, by the node's address: the node keeps the error for Nodes and for the messages of
// other calls, which must never show this call's key.
func withoutRequestURL(err error, base string) error {
	var ue *url.Error
	if !errors.As(err, &ue) || ue.URL == "" {
		return err
	}
	return errors.New(strings.ReplaceAll(err.Error(), ue.URL, base))
}

func (n *node) info(leader string) NodeInfo {
	n.mu.Lock()
	defer n.mu.Unlock()
	ni := NodeInfo{Name: n.name, Address: n.addr, Rack: n.rack, Status: n.status, Message: n.message,
		Leader: n.name == leader && leader != "", Reachable: n.reachable}
	if n.lastErr != nil {
		ni.Err = n.lastErr.Error()
	}
	return ni
}

// usable: reachable, and neither evacuated nor blocked in the cluster's view.
func (n *node) usable() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reachable && n.status != api.StatusEvacuated && n.status != api.StatusBlocked &&
		n.status != api.StatusOffline
}

func (n *node) isReachable() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reachable
}

// getJSON fetches a /v1 document from base with the tend timeout.
func (c *Cluster) getJSON(ctx context.Context, ep endpoint, path string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.settings.Timeout)
	defer cancel()
	base := ep.base
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
		if err != nil {
			return err
		}
		c.auth.authorize(req)
		resp, err := c.httpClient(ep.tlsName).Do(req)
		if err != nil {
			return c.tlsError(err, ep)
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		rep := &reply{status: resp.StatusCode, header: resp.Header, body: body, node: ep.who}
		if attempt == 0 && c.loginAgain(rep) {
			// The token expired or was never taken (auth enabled since): log in here, once.
			if err := c.login(ctx, ep); err != nil {
				return err
			}
			continue
		}
		if resp.StatusCode == http.StatusUnauthorized {
			return replyError(rep)
		}
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("GET %s%s: %s: %s", base, path, resp.Status, body)
		}
		return json.Unmarshal(body, out)
	}
}

// probe asks a node for the cluster document and checks its cluster name.
func (c *Cluster) probe(ctx context.Context, base endpoint) (api.Cluster, error) {
	var info api.Cluster
	if err := c.getJSON(ctx, base, "/v1/cluster", &info); err != nil {
		return info, err
	}
	if c.def.clusterName != "" && info.ClusterName != c.def.clusterName {
		return info, fmt.Errorf("%w: node %s at %s is in cluster %q, want %q",
			ErrClusterNameMismatch, info.ServerName, base.base, info.ClusterName, c.def.clusterName)
	}
	return info, nil
}
