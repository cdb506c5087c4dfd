package client_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

// namedTLSCluster runs three members on https:// client URLs with mutual TLS, each with a
// certificate valid for its own name only (nK.cairn.test, no IP address), advertising
// https://nK.cairn.test:port and, as alternate, https://127.0.0.1:port. The client reaches
// them only by mapping the names to 127.0.0.1, so a name check against the dialled address
// would fail every time.
func namedTLSCluster(t *testing.T) (*testcluster.Cluster, *tlstest.Set, map[string]string) {
	set := tlstest.NewSet(t, "sdk-client")
	ipMap := map[string]string{}
	c := testcluster.New(t, 3, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}),
		testcluster.WithConfig(func(i int, cfg *node.Config) {
			name := fmt.Sprintf("n%d.cairn.test", i+1)
			ipMap[name] = "127.0.0.1"
			pair := set.CA.Issue(t, tlstest.Leaf{CN: name, Hosts: []string{name}, ServerOnly: true})
			cfg.ClientTLS.CertFile, cfg.ClientTLS.KeyFile = pair.Write(t, set.Dir, name)
			u, err := url.Parse(cfg.ListenClientURLs[0])
			if err != nil {
				t.Fatal(err)
			}
			cfg.AdvertiseClientURLs = []string{"https://" + name + ":" + u.Port()}
			cfg.AdvertiseAlternateClientURLs = []string{"https://127.0.0.1:" + u.Port()}
		}))
	return c, set, ipMap
}

// tlsSettings give a handshake on a loaded machine time to finish.
var tlsSettings = client.SystemSettings{TendInterval: 50 * time.Millisecond, Timeout: 3 * time.Second}

// putEventually writes until a write succeeds: a cluster on a loaded machine may be between
// leaders, and a write whose outcome is unknown is not retried by the client.
func putEventually(t *testing.T, s *client.Session, key, value string) {
	t.Helper()
	testcluster.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
		_, err := s.Put(context.Background(), key, value)
		return err
	})
}

func tlsDef(set *tlstest.Set, hosts ...client.Host) *client.TLSBuilder {
	return client.NewClusterDefinitionHosts(hosts...).WithSystemSettings(tlsSettings).WithTLSConfigOf().
		CAFile(set.CAFile).CertFile(set.ClientCertFile).KeyFile(set.ClientKeyFile)
}

func seedNamed(t *testing.T, m *testcluster.Member, tlsName string) client.Host {
	h := hostOf(t, m)
	h.TLSName = tlsName
	return h
}

func TestTLSVerifiesEveryNodeByName(t *testing.T) {
	c, set, ipMap := namedTLSCluster(t)
	ctx := context.Background()

	t.Run("names per host and of learned nodes", func(t *testing.T) {
		cl := connect(t, tlsDef(set, seedNamed(t, c.Members[0], "n1.cairn.test")).Done().WithIPMap(ipMap))
		waitNodes(t, cl, "n1", "n2", "n3")
		for _, n := range cl.Nodes() {
			if !strings.HasPrefix(n.Address, "https://127.0.0.1:") {
				t.Fatalf("%+v: want the mapped https address", n)
			}
		}
		ms, err := cl.Members().All(ctx)
		if err != nil || len(ms) != 3 {
			t.Fatalf("members: %+v %v", ms, err)
		}
		for _, m := range ms {
			name := m.ServerName + ".cairn.test"
			if len(m.URLs) != 1 || !strings.HasPrefix(m.URLs[0], "https://"+name+":") || m.URL != m.URLs[0] ||
				len(m.AlternateURLs) != 1 || !strings.HasPrefix(m.AlternateURLs[0], "https://127.0.0.1:") {
				t.Fatalf("member %+v: want its advertised and alternate URLs listed", m)
			}
		}
		putEventually(t, cl.CreateSession(client.DefaultBehavior), "/tls/k", "v")
		b := client.DefaultBehavior
		b.Replica = client.ReplicaAny
		served := map[string]bool{}
		testcluster.CheckFor(t, 15*time.Second, 10*time.Millisecond, func() error {
			r, err := cl.CreateSession(b).Get(ctx, "/tls/k")
			if err != nil || r.Node.Value != "v" {
				return fmt.Errorf("get: %+v %v", r, err)
			}
			served[r.ServedBy] = true
			if len(served) < 3 {
				return fmt.Errorf("served by %v so far", served)
			}
			return nil
		})
	})

	t.Run("alternate URLs keep the advertised names", func(t *testing.T) {
		// Dials https://127.0.0.1:port, which no certificate names: only the advertised
		// name nK.cairn.test verifies.
		cl := connect(t, tlsDef(set, seedNamed(t, c.Members[1], "n2.cairn.test")).Done().UsingServicesAlternate())
		waitNodes(t, cl, "n1", "n2", "n3")
	})

	t.Run("a seed with the wrong name is refused", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := tlsDef(set, seedNamed(t, c.Members[0], "n2.cairn.test")).Done().Connect(ctx)
		if !errors.Is(err, client.ErrTLSVerification) || !strings.Contains(err.Error(), `"n2.cairn.test"`) ||
			!strings.Contains(err.Error(), hostOf(t, c.Members[0]).String()) {
			t.Fatalf("Connect: %v; want ErrTLSVerification naming the seed and n2.cairn.test", err)
		}
		t.Log(err)
	})

	t.Run("a seed without a name is checked against its address", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := tlsDef(set, hostOf(t, c.Members[0])).Done().Connect(ctx)
		if !errors.Is(err, client.ErrTLSVerification) || !strings.Contains(err.Error(), `"127.0.0.1"`) {
			t.Fatalf("Connect: %v; want ErrTLSVerification expecting 127.0.0.1", err)
		}
	})

	t.Run("learned nodes are verified too", func(t *testing.T) {
		// The builder's name fits n1's seed only; applied to every learned node, it makes n2
		// and n3 refused, each with an error naming it and the name.
		cl := connect(t, tlsDef(set, hostOf(t, c.Members[0])).TLSName("n1.cairn.test").Done().WithIPMap(ipMap))
		testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			ns := cl.Nodes()
			if len(ns) != 3 {
				return fmt.Errorf("%+v", ns)
			}
			for _, n := range ns {
				if n.Name == "n1" {
					if !n.Reachable {
						return fmt.Errorf("n1: %+v", n)
					}
					continue
				}
				if n.Reachable || !strings.Contains(n.Err, client.ErrTLSVerification.Error()) ||
					!strings.Contains(n.Err, "node "+n.Name) || !strings.Contains(n.Err, `"n1.cairn.test"`) {
					return fmt.Errorf("%s: %+v; want refused naming it and n1.cairn.test", n.Name, n)
				}
				t.Log(n.Err)
			}
			return nil
		})
		// Requests go to n1 only, leader or not: a follower relays writes.
		b := client.DefaultBehavior
		b.Replica = client.ReplicaAny
		s := cl.CreateSession(b)
		for i := 0; i < 4; i++ {
			putEventually(t, s, "/tls/learned", strconv.Itoa(i))
			testcluster.CheckFor(t, 15*time.Second, 20*time.Millisecond, func() error {
				if g, err := s.Get(ctx, "/tls/learned"); err != nil || g.ServedBy != "n1" || g.Node.Value != strconv.Itoa(i) {
					return fmt.Errorf("get: %+v %v; want %d from n1", g, err, i)
				}
				return nil
			})
		}
	})

	t.Run("a client without a certificate gets nothing", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		def := client.NewClusterDefinitionHosts(seedNamed(t, c.Members[0], "n1.cairn.test")).WithSystemSettings(tlsSettings).
			WithTLSConfigOf().CAFile(set.CAFile).Done()
		if _, err := def.Connect(ctx); !errors.Is(err, client.ErrNotConnected) {
			t.Fatalf("Connect without a client certificate: %v", err)
		}
	})

	t.Run("a plain client gets nothing from a TLS port", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, err := client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).WithSystemSettings(fast).Connect(ctx)
		if !errors.Is(err, client.ErrNotConnected) {
			t.Fatalf("plain Connect to a TLS port: %v", err)
		}
	})
}

// tlsOneNode runs one member with mutual TLS on its client port, its TLS adjusted by adjust.
func tlsOneNode(t *testing.T, adjust func(cfg *node.Config)) (*testcluster.Cluster, *tlstest.Set) {
	set := tlstest.NewSet(t, "sdk-client")
	c := testcluster.New(t, 1, testcluster.WithElectionTimeout(300*time.Millisecond),
		testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}),
		testcluster.WithConfig(func(_ int, cfg *node.Config) { adjust(cfg) }))
	return c, set
}

func tryConnect(t *testing.T, b *client.TLSBuilder) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cl, err := b.Done().Connect(ctx)
	if err == nil {
		cl.Close()
	}
	return err
}

func TestTLSProtocolsHonoured(t *testing.T) {
	c, set := tlsOneNode(t, func(cfg *node.Config) { cfg.ClientTLS.MinVersion = "TLS1.3" })
	seed := hostOf(t, c.Members[0])
	err := tryConnect(t, tlsDef(set, seed).Protocols("TLSv1.2"))
	if !errors.Is(err, client.ErrNotConnected) || !strings.Contains(err.Error(), "protocol version") {
		t.Fatalf("TLS 1.2 client against a TLS 1.3 server: %v", err)
	}
	for _, v := range []string{"TLSv1.3", "TLS1.3"} {
		if err := tryConnect(t, tlsDef(set, seed).Protocols(v)); err != nil {
			t.Fatalf("%s client against a TLS 1.3 server: %v", v, err)
		}
	}
}

func TestTLSCiphersHonoured(t *testing.T) {
	c, set := tlsOneNode(t, func(cfg *node.Config) {
		cfg.ClientTLS.MaxVersion = "TLS1.2"
		cfg.ClientTLS.CipherSuites = []string{"TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"}
	})
	seed := hostOf(t, c.Members[0])
	err := tryConnect(t, tlsDef(set, seed).Ciphers("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"))
	if !errors.Is(err, client.ErrNotConnected) || !strings.Contains(err.Error(), "handshake failure") {
		t.Fatalf("client limited to another suite: %v", err)
	}
	if err := tryConnect(t, tlsDef(set, seed).Protocols("TLS1.2").
		Ciphers("TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256", "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384")); err != nil {
		t.Fatalf("client offering the server's suite: %v", err)
	}
}

// A CA, certificate and key held in memory work as their files do, against a member that asks
// for client certificates; without the certificate the same member refuses the client.
func TestTLSFromMemory(t *testing.T) {
	set := tlstest.NewSet(t, "sdk-pem")
	c := testcluster.New(t, 1, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}))
	c.WaitLeader(t)
	read := func(p string) []byte {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	ca, cert, key := read(set.CAFile), read(set.ClientCertFile), read(set.ClientKeyFile)
	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).WithSystemSettings(tlsSettings).
		WithTLSConfigOf().CAPEM(ca).CertificatePEM(cert, key).Done())
	putEventually(t, cl.CreateSession(client.DefaultBehavior), "/pem", "v")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).WithSystemSettings(tlsSettings).
		FailIfNotConnected(true).WithTLSConfigOf().CAPEM(ca).Done().Connect(ctx)
	if err == nil {
		t.Fatal("connected without the client certificate the member asks for")
	}
	for name, b := range map[string]*client.TLSBuilder{
		"CA PEM":          client.NewClusterDefinition("127.0.0.1", 1).WithTLSConfigOf().CAPEM([]byte("no")),
		"certificate PEM": client.NewClusterDefinition("127.0.0.1", 1).WithTLSConfigOf().CertificatePEM(cert, []byte("no")),
	} {
		if _, err := b.Done().Connect(ctx); !errors.Is(err, client.ErrInvalidArgument) {
			t.Errorf("bad %s: %v, want ErrInvalidArgument", name, err)
		}
	}
}
