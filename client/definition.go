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
	// MinConnectionsPerNode connections are opened to each node when it is first reached.
	MinConnectionsPerNode int
	// IdleTimeout closes connections unused this long. Default 55s.
	IdleTimeout time.Duration
	// TendInterval is how often each node is asked for the cluster's generation. Default 1s.
	TendInterval time.Duration
	// Timeout bounds connecting and each tend request. Default 1s.
	Timeout time.Duration
	// MaxErrorRate errors on one node within ErrorRateWindow open its circuit breaker until
	// the window ends: requests then skip it. 0 disables the breaker.
	MaxErrorRate int
	// ErrorRateWindow is the breaker's window. Default 1s.
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
