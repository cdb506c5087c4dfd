package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/cairn-io/cairn/api"
)

// Cluster is a connected cluster: the nodes the client knows, kept current by a tending loop.
// It is safe for concurrent use; Close releases everything.
type Cluster struct {
	def      ClusterDefinition
	settings SystemSettings
	// tlsCfg is nil for plain HTTP; otherwise each expected name gets a copy with ServerName set.
	tlsCfg *tls.Config
	// tlsName is the builder's TLSName as it was at Connect.
	tlsName string
	// auth holds the login token of native and external credentials.
	auth *authSession

	// clients holds one HTTP client per name verified in certificates ("" for plain HTTP), so
	// that a connection verified for one name is never reused for a node expected to be another.
	tmu     sync.Mutex
	clients map[string]*http.Client
	closed  bool
	// conns counts the open connections to each node, for MinConnectionsPerNode.
	conns connCounter

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

func newCluster(def ClusterDefinition, tlsCfg *tls.Config) *Cluster {
	s := def.settings.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	c := &Cluster{def: def, settings: s, tlsCfg: tlsCfg, clients: map[string]*http.Client{},
		auth: &authSession{mode: def.authMode, user: def.user, password: def.password},
		ctx:  ctx, cancel: cancel, refresh: make(chan struct{}, 1), nodes: map[string]*node{}}
	if def.tls != nil {
		c.tlsName = def.tls.name
	}
	return c
}

// httpClient is the client for connections whose certificate must be valid for tlsName.
func (c *Cluster) httpClient(tlsName string) *http.Client {
	c.tmu.Lock()
	defer c.tmu.Unlock()
	if hc, ok := c.clients[tlsName]; ok {
		return hc
	}
	s := c.settings
	tr := &http.Transport{
		DialContext:         c.conns.counting((&net.Dialer{Timeout: s.Timeout, KeepAlive: 30 * time.Second}).DialContext),
		TLSHandshakeTimeout: s.Timeout,
		MaxConnsPerHost:     s.MaxConnectionsPerNode,
		MaxIdleConnsPerHost: s.MaxConnectionsPerNode,
		IdleConnTimeout:     s.IdleTimeout,
	}
	if c.tlsCfg != nil {
		cfg := c.tlsCfg.Clone()
		cfg.ServerName = tlsName
		tr.TLSClientConfig = cfg
	}
	hc := &http.Client{Transport: tr}
	if c.closed {
		// Close has run: the client still fails cleanly, and keeps no connection.
		tr.DisableKeepAlives = true
		return hc
	}
	c.clients[tlsName] = hc
	return hc
}

// Close stops tending and every watch, and closes the connections. Operations after Close
// fail with ErrClosed.
func (c *Cluster) Close() {
	c.cancel()
	c.wg.Wait()
	c.tmu.Lock()
	defer c.tmu.Unlock()
	c.closed = true
	for _, hc := range c.clients {
		hc.Transport.(*http.Transport).CloseIdleConnections()
	}
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

// endpoint is where the client dials and whom it expects to find there.
type endpoint struct {
	base string // scheme://host:port
	// tlsName is the name the certificate must be valid for; unused over plain HTTP.
	tlsName string
	// who names the endpoint in errors.
	who string
}

func (c *Cluster) scheme() string {
	if c.tlsCfg != nil {
		return "https"
	}
	return "http"
}

// target picks the URL to dial for a member, and the name to verify there: a URL of the
// client's scheme (a TLS client never dials http://), the alternate one when asked for, with
// the IP map applied. The expected name is the builder's TLSName, or else the host of the
// member's own advertised URL: neither the alternate URL nor the IP map changes whom the
// client expects.
func (c *Cluster) target(m api.ClusterMember) (endpoint, error) {
	urls, alts := m.URLs, m.AlternateURLs
	if len(urls) == 0 && m.URL != "" {
		urls = []string{m.URL} // a server that predates the lists
	}
	if len(alts) == 0 && m.AlternateURL != "" {
		alts = []string{m.AlternateURL}
	}
	own := firstOfScheme(urls, c.scheme())
	dial := own
	if c.def.alternate {
		if a := firstOfScheme(alts, c.scheme()); a != nil {
			dial = a
		}
	}
	if dial == nil {
		return endpoint{}, fmt.Errorf("member %s advertises no %s:// client URL (it advertises %s)",
			m.ServerName, c.scheme(), strings.Join(append(append([]string{}, urls...), alts...), ", "))
	}
	ep := endpoint{}
	if c.tlsCfg != nil {
		switch {
		case c.tlsName != "":
			ep.tlsName = c.tlsName
		case own != nil:
			ep.tlsName = own.Hostname()
		default:
			ep.tlsName = dial.Hostname()
		}
	}
	host, port := dial.Hostname(), dial.Port()
	if to, ok := c.def.ipMap[host]; ok {
		host = to
	}
	if port != "" {
		host = net.JoinHostPort(host, port)
	} else if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	ep.base = dial.Scheme + "://" + host
	ep.who = "node " + m.ServerName + " at " + ep.base
	return ep, nil
}

// firstOfScheme is the first well-formed URL of the scheme, nil if none.
func firstOfScheme(urls []string, scheme string) *url.URL {
	for _, u := range urls {
		pu, err := url.Parse(u)
		if err == nil && pu.Scheme == scheme && pu.Hostname() != "" {
			return pu
		}
	}
	return nil
}

// seedEndpoint dials a seed (through the IP map) and expects its Host.TLSName, or else the
// builder's TLSName, or else the name the seed was given by.
func (c *Cluster) seedEndpoint(h Host) endpoint {
	host := h.Name
	if to, ok := c.def.ipMap[host]; ok {
		host = to
	}
	ep := endpoint{base: c.scheme() + "://" + (Host{Name: host, Port: h.Port}).addr()}
	ep.who = ep.base
	if c.tlsCfg != nil {
		switch {
		case h.TLSName != "":
			ep.tlsName = h.TLSName
		case c.tlsName != "":
			ep.tlsName = c.tlsName
		default:
			ep.tlsName = h.Name
		}
	}
	return ep
}

// discover contacts the seeds until one answers with a matching cluster name and its member list.
func (c *Cluster) discover(ctx context.Context) error {
	seeds, err := c.def.seedHosts(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotConnected, err)
	}
	var errs []error
	for _, h := range seeds {
		base := c.seedEndpoint(h)
		if err := c.login(ctx, base); err != nil {
			if errors.Is(err, ErrUnauthorized) {
				return err // wrong credentials: every seed would say so
			}
			errs = append(errs, fmt.Errorf("seed %s: %w", h, err))
			continue
		}
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
	targets := make(map[string]endpoint, len(want))
	problems := map[string]error{}
	for name, m := range want {
		ep, err := c.target(m)
		targets[name] = ep
		if err != nil {
			problems[name] = err
		}
	}
	c.mu.Lock()
	for name, n := range c.nodes {
		if _, ok := want[name]; !ok || targets[name].base != n.addr || targets[name].tlsName != n.tlsName {
			delete(c.nodes, name)
		}
	}
	var fresh []*node
	for name, m := range want {
		n, ok := c.nodes[name]
		if !ok {
			ep := targets[name]
			n = newNode(name, ep, c.settings.MaxConnectionsPerNode)
			c.nodes[name] = n
			if err := problems[name]; err != nil {
				// Known, shown by Nodes with the reason, never dialled.
				n.lastErr = err
			} else {
				fresh = append(fresh, n)
			}
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
	if n.addr == "" {
		return false // no URL of the client's scheme: nothing to dial
	}
	info, err := c.probe(ctx, n.endpoint())
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
	c.maybeWarmLocked(n)
	return changed || info.Leader != leader
}

func (c *Cluster) startTending() {
	if c.auth.usesLogin() {
		c.wg.Add(1)
		go c.renewLoop()
	}
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
		if err = c.getJSON(ctx, n.endpoint(), "/v1/cluster/members", &ms); err == nil {
			c.applyMembers(ctx, ms)
			return nil
		}
	}
	return err
}
