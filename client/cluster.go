package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"sync"
	"time"

	"github.com/cairn-io/cairn/api"
)

// Cluster is a connected cluster: the nodes the client knows, kept current by a tending loop.
// It is safe for concurrent use; Close releases everything.
type Cluster struct {
	def      ClusterDefinition
	settings SystemSettings
	httpc    *http.Client
	tr       *http.Transport

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	// refresh asks the tender for an immediate member refresh.
	refresh chan struct{}

	mu     sync.RWMutex
	nodes  map[string]*node // by member name
	leader string
	// listGen is the generation of the member list the nodes came from; a node that reports
	// another one knows of a change.
	listGen uint64
	rr      uint64
}

func newCluster(def ClusterDefinition) *Cluster {
	s := def.settings.withDefaults()
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: s.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		MaxConnsPerHost:     s.MaxConnectionsPerNode,
		MaxIdleConnsPerHost: s.MaxConnectionsPerNode,
		IdleConnTimeout:     s.IdleTimeout,
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Cluster{def: def, settings: s, tr: tr, httpc: &http.Client{Transport: tr},
		ctx: ctx, cancel: cancel, refresh: make(chan struct{}, 1), nodes: map[string]*node{}}
}

// Close stops tending and every watch, and closes the connections. Operations after Close
// fail with ErrClosed.
func (c *Cluster) Close() {
	c.cancel()
	c.wg.Wait()
	c.tr.CloseIdleConnections()
}

// Nodes lists the nodes the client knows, by name.
func (c *Cluster) Nodes() []NodeInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	out := make([]NodeInfo, 0, len(c.nodes))
	for _, n := range c.nodes {
		out = append(out, n.info(c.leader))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Leader is the leader's name as last learned ("" if unknown).
func (c *Cluster) Leader() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.leader
}

// requestRefresh makes the tender refresh the member list now (connection error, not leader).
func (c *Cluster) requestRefresh() {
	select {
	case c.refresh <- struct{}{}:
	default:
	}
}

// translate applies the alternate-address choice and the IP map to a member's URLs.
func (c *Cluster) translate(m api.ClusterMember) string {
	u := m.URL
	if c.def.alternate && m.AlternateURL != "" {
		u = m.AlternateURL
	}
	if u == "" || len(c.def.ipMap) == 0 {
		return u
	}
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	host, port := pu.Hostname(), pu.Port()
	if to, ok := c.def.ipMap[host]; ok {
		host = to
	}
	if port != "" {
		pu.Host = net.JoinHostPort(host, port)
	} else {
		pu.Host = host
	}
	return pu.String()
}

func (c *Cluster) seedURL(h Host) string {
	host := h.Name
	if to, ok := c.def.ipMap[host]; ok {
		host = to
	}
	return "http://" + (Host{Name: host, Port: h.Port}).addr()
}

// discover contacts the seeds until one answers with a matching cluster name and its member list.
func (c *Cluster) discover(ctx context.Context) error {
	seeds, err := c.def.seedHosts(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	var errs []error
	for _, h := range seeds {
		base := c.seedURL(h)
		if _, err := c.probe(ctx, base); err != nil {
			errs = append(errs, fmt.Errorf("seed %s: %w", h, err))
			continue
		}
		var ms api.ClusterMembers
		if err := c.getJSON(ctx, base, "/v1/cluster/members", &ms); err != nil {
			errs = append(errs, fmt.Errorf("seed %s: %w", h, err))
			continue
		}
		c.applyMembers(ctx, ms)
		return nil
	}
	return fmt.Errorf("%w: %w", ErrNotConnected, errors.Join(errs...))
}

// applyMembers makes the node set match the member list: removed members are dropped, new ones
// probed and added, known ones updated.
func (c *Cluster) applyMembers(ctx context.Context, ms api.ClusterMembers) {
	want := map[string]api.ClusterMember{}
	leader := ""
	for _, m := range ms.Members {
		if m.ServerName == "" {
			continue // added but not started yet: nothing to dial
		}
		want[m.ServerName] = m
		for _, r := range m.Roles {
			if r == api.RoleLeader {
				leader = m.ServerName
			}
		}
	}
	c.mu.Lock()
	for name, n := range c.nodes {
		if m, ok := want[name]; !ok || c.translate(m) != n.addr {
			delete(c.nodes, name)
		}
	}
	var fresh []*node
	for name, m := range want {
		n, ok := c.nodes[name]
		if !ok {
			addr := c.translate(m)
			if addr == "" {
				continue
			}
			n = newNode(name, addr, c.settings.MaxConnectionsPerNode)
			c.nodes[name] = n
			fresh = append(fresh, n)
		}
		n.mu.Lock()
		n.rack, n.status, n.message = m.FailureDomain, m.Status, m.Message
		n.mu.Unlock()
	}
	c.leader, c.listGen = leader, ms.Generation
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, n := range fresh {
		wg.Add(1)
		go func() { defer wg.Done(); c.tendNode(ctx, n) }()
	}
	wg.Wait()
}

// tendNode probes one node; it reports whether the member list needs a refresh.
func (c *Cluster) tendNode(ctx context.Context, n *node) bool {
	info, err := c.probe(ctx, n.addr)
	c.mu.RLock()
	leader, gen := c.leader, c.listGen
	c.mu.RUnlock()
	n.mu.Lock()
	defer n.mu.Unlock()
	if err != nil {
		was := n.reachable
		n.reachable, n.lastErr = false, err
		return was || errors.Is(err, ErrClusterNameMismatch)
	}
	if info.ServerName != n.name {
		n.reachable = false
		n.lastErr = fmt.Errorf("%s answers as %q, not %q", n.addr, info.ServerName, n.name)
		return true
	}
	changed := !n.reachable || info.Generation != gen
	n.reachable, n.lastErr = true, nil
	if !n.warmed {
		c.wg.Add(1)
		go func() { defer c.wg.Done(); c.warm(n) }()
	}
	return changed || info.Leader != leader
}

func (c *Cluster) startTending() {
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(c.settings.TendInterval)
		defer t.Stop()
		for {
			force := false
			select {
			case <-c.ctx.Done():
				return
			case <-t.C:
			case <-c.refresh:
				force = true
			}
			c.tend(force)
		}
	}()
}

// tend asks every node for the generation and refreshes the member list when one moved, a
// node came or went, or an operation asked for it. With no node yet, it retries the seeds.
func (c *Cluster) tend(force bool) {
	c.mu.RLock()
	nodes := make([]*node, 0, len(c.nodes))
	for _, n := range c.nodes {
		nodes = append(nodes, n)
	}
	c.mu.RUnlock()
	if len(nodes) == 0 {
		_ = c.discover(c.ctx)
		return
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	need := force
	for _, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.tendNode(c.ctx, n) {
				mu.Lock()
				need = true
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if !need {
		return
	}
	if err := c.refreshMembers(c.ctx, nodes); err != nil {
		// Every known node failed: the cluster may have moved; go back to the seeds.
		_ = c.discover(c.ctx)
	}
}

// refreshMembers reads the member list from the leader, or any reachable node.
func (c *Cluster) refreshMembers(ctx context.Context, nodes []*node) error {
	leader := c.Leader()
	sort.SliceStable(nodes, func(i, j int) bool { return nodes[i].name == leader && nodes[j].name != leader })
	err := ErrNoNodes
	for _, n := range nodes {
		if !n.isReachable() {
			continue
		}
		var ms api.ClusterMembers
		if err = c.getJSON(ctx, n.addr, "/v1/cluster/members", &ms); err == nil {
			c.applyMembers(ctx, ms)
			return nil
		}
	}
	return err
}
