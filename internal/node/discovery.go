package node

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DNS SRV bootstrap (--discovery-srv), as etcd 3.5 does it: the initial cluster is every target
// of _etcd-server-ssl._tcp.<domain> (as https peer URLs) and of _etcd-server._tcp.<domain> (as
// http), with --discovery-srv-name adding "-<name>" to both services. Either record may be
// missing, not both. A target that resolves to one of this member's advertised peer addresses is
// this member and takes its --name; the others get placeholder names (member ids depend on peer
// URLs only, and each member publishes its real name once it runs). This member must be among
// the targets.

// srvLookupTimeout bounds the whole lookup.
const srvLookupTimeout = 10 * time.Second

// discoverCluster returns the --initial-cluster that the SRV records of domain describe.
func discoverCluster(ctx context.Context, r *net.Resolver, domain, serviceName, name string, advertise []string) (string, error) {
	if r == nil {
		r = net.DefaultResolver
	}
	suffix := ""
	if serviceName != "" {
		suffix = "-" + serviceName
	}
	// The addresses this member advertises, resolved as the targets will be.
	self := map[string]string{} // ip:port -> scheme
	for _, a := range advertise {
		u, err := url.Parse(a)
		if err != nil {
			return "", fmt.Errorf("--initial-advertise-peer-urls: %v", err)
		}
		addrs, err := resolveHostPort(ctx, r, u.Hostname(), u.Port())
		if err != nil {
			return "", fmt.Errorf("resolving this member's peer URL %s: %w", a, err)
		}
		for _, ap := range addrs {
			self[ap] = u.Scheme
		}
	}

	var parts, looked []string
	var errs []error
	placeholder := 0
	found := false
	for _, s := range []struct{ service, scheme string }{
		{"etcd-server-ssl" + suffix, "https"},
		{"etcd-server" + suffix, "http"},
	} {
		record := "_" + s.service + "._tcp." + strings.TrimSuffix(domain, ".")
		looked = append(looked, record)
		_, srvs, err := r.LookupSRV(ctx, s.service, "tcp", domain)
		if err != nil {
			errs = append(errs, fmt.Errorf("looking up SRV record %s: %w", record, err))
			continue
		}
		for _, srv := range srvs {
			host := strings.TrimSuffix(srv.Target, ".")
			port := strconv.Itoa(int(srv.Port))
			addrs, err := resolveHostPort(ctx, r, host, port)
			if err != nil {
				errs = append(errs, fmt.Errorf("SRV record %s names %s: %w", record, net.JoinHostPort(host, port), err))
				continue
			}
			member := ""
			for _, ap := range addrs {
				if scheme, ok := self[ap]; ok {
					if scheme != s.scheme {
						return "", fmt.Errorf("SRV record %s gives this member's peer address %s as %s, but --initial-advertise-peer-urls has %s",
							record, net.JoinHostPort(host, port), s.scheme, scheme)
					}
					member = name
				}
			}
			if member == "" {
				member = strconv.Itoa(placeholder)
				placeholder++
			} else {
				found = true
			}
			parts = append(parts, member+"="+s.scheme+"://"+net.JoinHostPort(host, port))
		}
	}
	if len(parts) == 0 {
		return "", fmt.Errorf("--discovery-srv %s: no members found: %w", domain, errors.Join(errs...))
	}
	if !found {
		return "", fmt.Errorf("--discovery-srv %s: this member (%s, peer URLs %s) is not among the targets of %s",
			domain, name, strings.Join(advertise, ","), strings.Join(looked, " and "))
	}
	return strings.Join(parts, ","), nil
}

// resolveHostPort gives the ip:port forms of host:port, through r.
func resolveHostPort(ctx context.Context, r *net.Resolver, host, port string) ([]string, error) {
	if ip := net.ParseIP(host); ip != nil {
		return []string{net.JoinHostPort(ip.String(), port)}, nil
	}
	ips, err := r.LookupIPAddr(ctx, host)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, net.JoinHostPort(ip.IP.String(), port))
	}
	return out, nil
}
