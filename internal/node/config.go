package node

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/cairn-io/cairn/internal/directory"
	"github.com/cairn-io/cairn/internal/httpapi"
	"github.com/cairn-io/cairn/internal/tlsconf"
	"github.com/prometheus/client_golang/prometheus"
)

// Config is everything one node needs. Field names follow etcd's flags.
type Config struct {
	Name                     string
	DataDir                  string
	ListenClientURLs         []string
	AdvertiseClientURLs      []string
	ListenPeerURLs           []string
	InitialAdvertisePeerURLs []string
	InitialCluster           string // name=peerURL,...
	InitialClusterState      string // new or existing
	// JoinTimeout is how long a member joining an existing cluster waits to find itself in
	// the membership (someone's `member add`); 0: twice RequestTimeout. An orchestrator whose
	// member may start before the member it asks has applied the add (the operator) sets it
	// longer, so the member waits instead of exiting.
	JoinTimeout time.Duration
	// RegisteredPeerURLs are the placeholder peer URLs a joining member was added under when
	// its address was known only once it ran (the operator's fabric types other than pod); it
	// finds itself by them and sets its advertised ones through the member API.
	RegisteredPeerURLs  []string
	InitialClusterToken string
	ForceNewCluster     bool
	// DiscoverySRV bootstraps the initial cluster from the domain's SRV records instead of
	// InitialCluster (discovery.go); DiscoverySRVName suffixes the services; Resolver looks
	// them up (nil: the system's).
	DiscoverySRV     string
	DiscoverySRVName string
	Resolver         *net.Resolver
	discovered       bool // InitialCluster came from SRV records

	// Cluster view for smart clients (issue 6): the cluster's name that clients check, this
	// member's rack (failure domain) and the client URLs for clients on another network.
	ClusterName                  string
	RackID                       int
	AdvertiseAlternateClientURLs []string

	// Quorum queries over UDP (issue 7): served only when a key file is given.
	ListenQuorumURL   string
	QuorumHMACKeyFile string

	Limits          httpapi.Limits
	ReadConsistency string // linearizable (default) or serializable
	RequestTimeout  time.Duration
	// ElectionTimeout is how long a follower waits without hearing from a leader before it
	// stands for election; the leader sends heartbeats ten times as often. 0 = raftnode default.
	ElectionTimeout time.Duration
	// VersionCheckInterval is how often the leader reads the members' levels while the cluster
	// version is below its own (0: 2s); tests lengthen it to control when the version rises.
	VersionCheckInterval time.Duration
	SnapshotCount        uint64        // applied entries between snapshots
	SnapshotInterval     time.Duration // how often raft checks whether to snapshot
	TrailingLogs         uint64        // log entries kept after a snapshot, for slow followers

	// ListenMetricsURLs serve /metrics, /health, /livez and /readyz in plain HTTP
	// (--listen-metrics-urls); port 0 picks a free port (MetricsURLs tells which).
	ListenMetricsURLs []string

	Logger   *slog.Logger
	Registry *prometheus.Registry
	// EnablePprof serves /debug/pprof/ on the client port.
	EnablePprof bool

	// ClientTLS and PeerTLS are the TLS settings of https:// client and peer URLs (etcd's
	// --cert-file ... and --peer-cert-file ... flags). AutoTLS and PeerAutoTLS make a
	// self-signed certificate in the data directory instead, when no certificate is given.
	ClientTLS   tlsconf.Info
	PeerTLS     tlsconf.Info
	AutoTLS     bool
	PeerAutoTLS bool

	// Auth configures logins once auth is enabled: token lifetimes and the verified-credentials
	// cache. LDAP, when its URL is set, checks external users (--ldap-* flags).
	Auth httpapi.AuthConfig
	LDAP directory.Config

	// PeerDial, when set, opens every connection to another member (raft and peer HTTP);
	// internal/testcluster routes them through its switchable network to cut partitions.
	PeerDial func(ctx context.Context, network, addr string) (net.Conn, error)

	// ClientListener and PeerListener, when set, are used instead of listening on the URLs;
	// tests pass listeners on port 0.
	ClientListener net.Listener
	PeerListener   net.Listener
}

// Defaults fills what the user left out with the embedded single-node defaults.
func (c *Config) Defaults() {
	if c.Name == "" {
		c.Name = "default"
	}
	if c.DataDir == "" {
		c.DataDir = "cairn-data"
	}
	if len(c.ListenClientURLs) == 0 {
		c.ListenClientURLs = []string{"http://127.0.0.1:2379"}
	}
	if len(c.AdvertiseClientURLs) == 0 {
		c.AdvertiseClientURLs = c.ListenClientURLs
	}
	if len(c.ListenPeerURLs) == 0 {
		c.ListenPeerURLs = []string{"http://127.0.0.1:2380"}
	}
	if len(c.InitialAdvertisePeerURLs) == 0 {
		c.InitialAdvertisePeerURLs = c.ListenPeerURLs
	}
	if c.InitialCluster == "" && c.DiscoverySRV == "" {
		c.InitialCluster = c.Name + "=" + strings.Join(c.InitialAdvertisePeerURLs, ",")
	}
	if c.InitialClusterState == "" {
		c.InitialClusterState = "new"
	}
	if c.InitialClusterToken == "" {
		c.InitialClusterToken = "cairn-cluster"
	}
	if c.Limits.MaxKeyBytes == 0 {
		c.Limits.MaxKeyBytes = httpapi.DefaultLimits.MaxKeyBytes
	}
	if c.Limits.MaxValueBytes == 0 {
		c.Limits.MaxValueBytes = httpapi.DefaultLimits.MaxValueBytes
	}
	if c.Limits.MaxRequestBytes == 0 {
		c.Limits.MaxRequestBytes = httpapi.DefaultLimits.MaxRequestBytes
	}
	if c.ReadConsistency == "" {
		c.ReadConsistency = "linearizable"
	}
	if c.RequestTimeout == 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 2 * c.RequestTimeout
	}
	if c.SnapshotCount == 0 {
		c.SnapshotCount = 100000
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = 30 * time.Second
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Validate refuses a configuration that cannot work, with the flag to fix named.
func (c *Config) Validate() error {
	if c.InitialClusterState != "new" && c.InitialClusterState != "existing" {
		return fmt.Errorf("--initial-cluster-state must be new or existing, not %q", c.InitialClusterState)
	}
	if len(c.RegisteredPeerURLs) > 0 && c.InitialClusterState != "existing" {
		return fmt.Errorf("--registered-peer-urls names a `member add` already made: it needs --initial-cluster-state existing")
	}
	if c.ReadConsistency != "linearizable" && c.ReadConsistency != "serializable" {
		return fmt.Errorf("--read-consistency must be linearizable or serializable, not %q", c.ReadConsistency)
	}
	for _, group := range []struct {
		flag string
		urls []string
	}{
		{"--listen-client-urls", c.ListenClientURLs}, {"--advertise-client-urls", c.AdvertiseClientURLs},
		{"--listen-peer-urls", c.ListenPeerURLs}, {"--initial-advertise-peer-urls", c.InitialAdvertisePeerURLs},
		{"--registered-peer-urls", c.RegisteredPeerURLs},
	} {
		for _, u := range group.urls {
			if _, err := parseURL(u); err != nil {
				return fmt.Errorf("%s: %v", group.flag, err)
			}
		}
	}
	if err := c.validateTLS(); err != nil {
		return err
	}
	for _, u := range c.ListenMetricsURLs {
		pu, err := parseURL(u)
		if err != nil {
			return fmt.Errorf("--listen-metrics-urls: %v", err)
		}
		if pu.Scheme != "http" {
			return fmt.Errorf("--listen-metrics-urls: %q: the metrics port serves plain HTTP only (use http://)", u)
		}
	}
	if c.DiscoverySRV != "" {
		if c.InitialCluster != "" {
			return fmt.Errorf("--discovery-srv and --initial-cluster exclude each other: give one")
		}
		return nil // the initial cluster is checked once the records are read (Start)
	}
	cluster, err := ParseInitialCluster(c.InitialCluster)
	if err != nil {
		return fmt.Errorf("--initial-cluster: %v", err)
	}
	mine, ok := cluster[c.Name]
	if !ok {
		return fmt.Errorf("--initial-cluster has no member named %q (--name)", c.Name)
	}
	if !c.discovered && !sameURLs(mine, c.InitialAdvertisePeerURLs) {
		return fmt.Errorf("--initial-cluster gives %s=%s but --initial-advertise-peer-urls is %s",
			c.Name, strings.Join(mine, ","), strings.Join(c.InitialAdvertisePeerURLs, ","))
	}
	return nil
}

func parseURL(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("invalid URL %q: scheme must be http or https", s)
	}
	if u.Hostname() == "" || u.Port() == "" {
		return nil, fmt.Errorf("invalid URL %q: want scheme://host:port", s)
	}
	return u, nil
}

// ParseInitialCluster reads etcd's name=url[,name=url...] form; a name may repeat to give a
// member several peer URLs.
func ParseInitialCluster(s string) (map[string][]string, error) {
	out := map[string][]string{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, u, ok := strings.Cut(part, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("%q is not name=peerURL", part)
		}
		if _, err := parseURL(u); err != nil {
			return nil, err
		}
		out[name] = append(out[name], u)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("empty")
	}
	return out, nil
}

func sameURLs(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]bool{}
	for _, x := range a {
		seen[x] = true
	}
	for _, x := range b {
		if !seen[x] {
			return false
		}
	}
	return true
}
