package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
)

// srvSource finds the seeds in DNS SRV records, as etcd 3.5's clients do: the targets of
// _etcd-client-ssl._tcp.<domain> and _etcd-client._tcp.<domain> together; one of the two may be
// missing, not both.
type srvSource struct {
	domain   string
	service  string // "-<name>" suffix of both services, or ""
	resolver *net.Resolver
}

// NewClusterDefinitionSRV takes its seeds from the SRV records of domain (etcd's
// _etcd-client-ssl._tcp and _etcd-client._tcp). They are looked up at Connect, and again
// whenever every node the client knows is unreachable, so a cluster that moved is found again.
func NewClusterDefinitionSRV(domain string) *ClusterDefinition {
	return &ClusterDefinition{srv: &srvSource{domain: domain}, failIfNotCon: true}
}

// WithSRVServiceName looks up _etcd-client-ssl-<name>._tcp and _etcd-client-<name>._tcp instead
// (etcd's --discovery-srv-name). It matters only for NewClusterDefinitionSRV.
func (d *ClusterDefinition) WithSRVServiceName(name string) *ClusterDefinition {
	if d.srv != nil {
		s := *d.srv
		s.service = ""
		if name != "" {
			s.service = "-" + name
		}
		d.srv = &s
	}
	return d
}

// WithResolver looks the SRV records and their targets up through r (default: the system's
// resolver). It matters only for NewClusterDefinitionSRV.
func (d *ClusterDefinition) WithResolver(r *net.Resolver) *ClusterDefinition {
	if d.srv != nil {
		s := *d.srv
		s.resolver = r
		d.srv = &s
	}
	return d
}

// seedHosts are the hosts to start discovery from: the given seeds, or the SRV targets as they
// are now.
func (d *ClusterDefinition) seedHosts(ctx context.Context) ([]Host, error) {
	if d.srv == nil {
		return d.seeds, nil
	}
	return d.srv.hosts(ctx)
}

// hosts resolves the records. Each target is reached at its address, with the target's name
// as the name to check in a server certificate.
func (s *srvSource) hosts(ctx context.Context) ([]Host, error) {
	r := s.resolver
	if r == nil {
		r = net.DefaultResolver
	}
	domain := strings.TrimSuffix(s.domain, ".")
	var out []Host
	var errs []error
	for _, service := range []string{"etcd-client-ssl" + s.service, "etcd-client" + s.service} {
		record := "_" + service + "._tcp." + domain
		_, srvs, err := r.LookupSRV(ctx, service, "tcp", domain)
		if err != nil {
			errs = append(errs, fmt.Errorf("SRV record %s: %w", record, err))
			continue
		}
		for _, srv := range srvs {
			target := strings.TrimSuffix(srv.Target, ".")
			ips, err := r.LookupIPAddr(ctx, target)
			if err != nil {
				errs = append(errs, fmt.Errorf("SRV record %s names %s: %w", record, target, err))
				continue
			}
			for _, ip := range ips {
				out = append(out, Host{Name: ip.IP.String(), TLSName: target, Port: int(srv.Port)})
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("cairn: no seeds in the SRV records of %s: %w", domain, errors.Join(errs...))
	}
	return out, nil
}
