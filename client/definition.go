package client

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"
)

// SystemSettings tune connections and tending. Zero fields take the defaults below.
type SystemSettings struct {
	// MaxConnectionsPerNode bounds concurrent requests (watches included) to one node; a
	// request beyond it fails at once with ErrPoolExhausted rather than queueing. Default 100.
	MaxConnectionsPerNode int
	// MinConnectionsPerNode connections are opened to each node when the tender first reaches
	// it, and kept warm: the tender reopens those the server closed and uses them again before
	// IdleTimeout would close them. 0, the default, opens connections only as requests need
	// them. At most MaxConnectionsPerNode.
	MinConnectionsPerNode int
	// IdleTimeout closes connections unused this long; the MinConnectionsPerNode kept warm are
	// never unused that long. Default 55s, below cairnd's 2 minutes, so that the client closes
	// idle connections before the server does.
	IdleTimeout time.Duration
	// TendInterval is how often each node is asked for the cluster's generation. Default 1s.
	TendInterval time.Duration
	// Timeout bounds connecting and each tend request. Default 1s.
	Timeout time.Duration
	// MaxErrorRate is the circuit breaker's threshold. Each node's timeouts, transport errors
	// and 5xx answers to requests are counted; when more than MaxErrorRate of them fall within
	// one ErrorRateWindow, the node's breaker opens and stays open for one ErrorRateWindow,
	// then closes and counts afresh. Requests skip a node whose breaker is open; a call that
	// only such nodes could serve fails at once with an error matching ErrCircuitOpen that
	// names them. 4xx answers (key not found, compare failed, refused) answer the request and
	// never count; nor do calls the caller cancelled. 0, the default, disables the breaker.
	MaxErrorRate int
	// ErrorRateWindow is the breaker's window: how far back errors are counted, and how long
	// an open breaker stays open. Default 1s.
	ErrorRateWindow time.Duration
}

func (s SystemSettings) withDefaults() SystemSettings {
	if s.MaxConnectionsPerNode <= 0 {
		s.MaxConnectionsPerNode = 100
	}
	if s.MinConnectionsPerNode > s.MaxConnectionsPerNode {
		s.MinConnectionsPerNode = s.MaxConnectionsPerNode
	}
	if s.IdleTimeout <= 0 {
		s.IdleTimeout = 55 * time.Second
	}
	if s.TendInterval <= 0 {
		s.TendInterval = time.Second
	}
	if s.Timeout <= 0 {
		s.Timeout = time.Second
	}
	if s.ErrorRateWindow <= 0 {
		s.ErrorRateWindow = time.Second
	}
	return s
}

// ClusterDefinition describes how to reach a cluster; Connect ends the chain.
type ClusterDefinition struct {
	seeds        []Host
	alternate    bool
	racks        []int
	clusterName  string
	failIfNotCon bool
	ipMap        map[string]string
	settings     SystemSettings
	tls          *TLSBuilder
	authMode     AuthMode
	user         string
	password     string
	srv          *srvSource // seeds from DNS SRV records (srv.go) instead of seeds
}

// NewClusterDefinition starts from one seed.
func NewClusterDefinition(hostname string, port int) *ClusterDefinition {
	return NewClusterDefinitionHosts(NewHost(hostname, port))
}

// NewClusterDefinitionHosts starts from several seeds; any one that answers is enough.
func NewClusterDefinitionHosts(hosts ...Host) *ClusterDefinition {
	return &ClusterDefinition{seeds: append([]Host(nil), hosts...), failIfNotCon: true}
}

// UsingServicesAlternate reaches members through their alternate client URLs
// (--advertise-alternate-client-urls), for clients on another network.
func (d *ClusterDefinition) UsingServicesAlternate() *ClusterDefinition {
	d.alternate = true
	return d
}

// PreferringRacks sends reads to the first of these racks that has a usable node, then the next.
func (d *ClusterDefinition) PreferringRacks(racks ...int) *ClusterDefinition {
	d.racks = append([]int(nil), racks...)
	return d
}

// ValidateClusterNameIs refuses every node whose --cluster-name differs.
func (d *ClusterDefinition) ValidateClusterNameIs(name string) *ClusterDefinition {
	d.clusterName = name
	return d
}

// FailIfNotConnected(true), the default, makes Connect fail when no seed answers; with false
// Connect returns a cluster that keeps trying the seeds and connects when they come up.
func (d *ClusterDefinition) FailIfNotConnected(fail bool) *ClusterDefinition {
	d.failIfNotCon = fail
	return d
}

// WithIPMap translates the host part of the addresses the cluster announces (key) into the
// address this client must dial (value).
func (d *ClusterDefinition) WithIPMap(m map[string]string) *ClusterDefinition {
	d.ipMap = make(map[string]string, len(m))
	for k, v := range m {
		d.ipMap[k] = v
	}
	return d
}

// WithSystemSettings sets connection and tending settings.
func (d *ClusterDefinition) WithSystemSettings(s SystemSettings) *ClusterDefinition {
	d.settings = s
	return d
}

// Connect contacts the seeds, checks the cluster name, learns every member and starts tending.
func (d *ClusterDefinition) Connect(ctx context.Context) (*Cluster, error) {
	if len(d.seeds) == 0 && d.srv == nil {
		return nil, fmt.Errorf("%w: no seed hosts", ErrInvalidArgument)
	}
	if err := d.checkAuth(); err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if d.tls != nil {
		var err error
		if tlsCfg, err = d.tls.config(); err != nil {
			return nil, err
		}
	}
	c := newCluster(*d, tlsCfg)
	err := c.discover(ctx)
	if err != nil && d.failIfNotCon {
		c.Close()
		return nil, err
	}
	c.startTending()
	return c, nil
}
