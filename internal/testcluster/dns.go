package testcluster

import (
	"context"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
)

// DNSServer is a real DNS server on loopback (UDP) answering from the records added to it:
// every type of a name it holds, NXDOMAIN for a name it does not. Resolver sends a Go resolver's
// every query to it, so tests exercise DNS lookups without touching the machine's resolv.conf.
type DNSServer struct {
	mu      sync.Mutex
	records map[string][]dns.RR // lower-case FQDN -> records of every type
	addr    string
}

// NewDNSServer starts a server that stops with the test.
func NewDNSServer(t testing.TB) *DNSServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return NewDNSServerOn(t, pc)
}

// NewDNSServerOn serves on pc, e.g. port 53 of a loopback address that a resolv.conf in a
// private mount namespace names, for a process that uses the system's resolver.
func NewDNSServerOn(t testing.TB, pc net.PacketConn) *DNSServer {
	d := &DNSServer{records: map[string][]dns.RR{}, addr: pc.LocalAddr().String()}
	srv := &dns.Server{PacketConn: pc, Handler: dns.HandlerFunc(d.serve)}
	go func() { _ = srv.ActivateAndServe() }()
	t.Cleanup(func() { _ = srv.Shutdown() })
	return d
}

// Add adds one record in zone-file form, e.g. "_etcd-server._tcp.x.test. 60 IN SRV 0 0 2380 n1.x.test.".
func (d *DNSServer) Add(t testing.TB, rr string) {
	t.Helper()
	r, err := dns.NewRR(rr)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.ToLower(r.Header().Name)
	d.mu.Lock()
	d.records[name] = append(d.records[name], r)
	d.mu.Unlock()
}

// Remove drops every record of name.
func (d *DNSServer) Remove(name string) {
	d.mu.Lock()
	delete(d.records, strings.ToLower(dns.Fqdn(name)))
	d.mu.Unlock()
}

func (d *DNSServer) serve(w dns.ResponseWriter, req *dns.Msg) {
	m := new(dns.Msg)
	m.SetReply(req)
	m.Authoritative = true
	d.mu.Lock()
	for _, q := range req.Question {
		rrs, ok := d.records[strings.ToLower(q.Name)]
		if !ok {
			m.Rcode = dns.RcodeNameError
			continue
		}
		for _, rr := range rrs {
			if rr.Header().Rrtype == q.Qtype {
				m.Answer = append(m.Answer, rr)
			}
		}
	}
	d.mu.Unlock()
	_ = w.WriteMsg(m)
}

// Resolver is a Go resolver that asks only this server.
func (d *DNSServer) Resolver() *net.Resolver {
	return &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", d.addr)
	}}
}
