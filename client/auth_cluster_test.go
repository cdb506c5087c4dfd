package client_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

// authCluster runs three members whose tokens live ttl, with auth on, the guest role
// emptied, and alice holding role app on /app/*.
func authCluster(t *testing.T, ttl time.Duration, opts ...testcluster.Option) *testcluster.Cluster {
	opts = append([]testcluster.Option{testcluster.WithConfig(func(i int, c *node.Config) { c.Auth.TokenTTL = ttl })}, opts...)
	c := testcluster.New(t, 3, opts...)
	c.WaitLeader(t)
	c.AddRole(t, "", "app", "/app/*")
	c.AddUser(t, "", "alice", "alicepw", "app")
	c.EnableAuth(t, "rootpw")
	return c
}

func TestNativeCredentials(t *testing.T) {
	c := authCluster(t, time.Minute)
	ctx := context.Background()

	_, err := client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).WithSystemSettings(fast).Connect(ctx)
	if !errors.Is(err, client.ErrUnauthorized) && !errors.Is(err, client.ErrNotConnected) {
		t.Fatalf("anonymous connect: %v", err)
	}
	_, err = client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).WithSystemSettings(fast).
		WithNativeCredentials("alice", "wrong").Connect(ctx)
	var ce *client.Error
	if !errors.Is(err, client.ErrUnauthorized) || !errors.As(err, &ce) || ce.Node == "" {
		t.Fatalf("wrong password: %v, want ErrUnauthorized naming the node", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error repeats the password: %v", err)
	}

	cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).WithSystemSettings(fast).
		WithNativeCredentials("alice", "alicepw"))
	waitNodes(t, cl, "n1", "n2", "n3")
	s := cl.CreateSession(client.DefaultBehavior)
	if _, err := s.Put(ctx, "/app/a", "1"); err != nil {
		t.Fatal(err)
	}
	if r, err := s.Get(ctx, "/app/a"); err != nil || r.Node.Value != "1" {
		t.Fatalf("get: %+v %v", r, err)
	}
	_, err = s.Put(ctx, "/other", "1")
	if !errors.Is(err, client.ErrUnauthorized) || !errors.As(err, &ce) || ce.Node == "" {
		t.Fatalf("write outside the role: %v, want ErrUnauthorized naming the node", err)
	}
	// A member change needs root: refused with the same error.
	if err := cl.Members().Evacuate(ctx, "n1"); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("evacuate as alice: %v", err)
	}
}

// TestTokenRenewedAndTakenAgain: a token is renewed before it expires, taken again when a
// node refuses it, and none of it fails a caller's request, across a leader change too.
func TestTokenRenewedAndTakenAgain(t *testing.T) {
	c := authCluster(t, 6*time.Second)
	ctx := context.Background()

	t.Run("renewed while tending", func(t *testing.T) {
		cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[0])).
			WithSystemSettings(client.SystemSettings{TendInterval: 100 * time.Millisecond, Timeout: 2 * time.Second}).
			WithNativeCredentials("alice", "alicepw"))
		s := cl.CreateSession(client.DefaultBehavior)
		var failures atomic.Int64
		// Writes for more than a token's life, then reads (safe to retry, unlike a write whose
		// leader dies under it) for another while the leader is stopped.
		phase := func(d time.Duration, op func(i int) error) {
			for i, end := 0, time.Now().Add(d); time.Now().Before(end); i++ {
				if err := op(i); err != nil {
					failures.Add(1)
					t.Errorf("request %d: %v", i, err)
				}
				time.Sleep(50 * time.Millisecond) // paces the load; nothing waits on it
			}
		}
		phase(4500*time.Millisecond, func(i int) error {
			_, err := s.Put(ctx, fmt.Sprintf("/app/k%d", i%10), "v")
			return err
		})
		leader := c.WaitLeader(t)
		if err := c.Stop(leader.Index); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Restart(leader.Index) })
		phase(4500*time.Millisecond, func(i int) error {
			_, err := s.Get(ctx, fmt.Sprintf("/app/k%d", i%10))
			return err
		})
		if failures.Load() > 0 {
			t.Fatalf("%d requests failed across token renewals and a leader change", failures.Load())
		}
		// The token was renewed (9 s of 6 s tokens) before any request met an expired one.
		if logins, retried := client.LoginStats(cl); logins < 3 || retried != 0 {
			t.Fatalf("%d logins, %d requests sent again: the tender did not renew the token in time", logins, retried)
		}
	})

	t.Run("taken again when refused", func(t *testing.T) {
		// Connected while auth is off: no token. Once auth is on, the first request is
		// refused, and answered after a fresh login. (No tending meanwhile: it would log in
		// first.)
		c := testcluster.New(t, 3)
		c.WaitLeader(t)
		c.AddRole(t, "", "app", "/app/*")
		c.AddUser(t, "", "carol", "carolpw", "app")
		cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[1])).
			WithSystemSettings(client.SystemSettings{TendInterval: time.Hour, Timeout: 2 * time.Second}).
			WithNativeCredentials("carol", "carolpw"))
		s := cl.CreateSession(client.DefaultBehavior)
		if _, err := s.Put(ctx, "/app/x", "1"); err != nil {
			t.Fatal(err)
		}
		c.EnableAuth(t, "rootpw")
		// Every member must refuse anonymous reads before the client asks, or it might read
		// from one that has not applied the guest role's change yet and never be refused.
		testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			for i := range c.Members {
				if status, _, err := c.AuthCall(i, "GET", "/v2/keys/app/x?consistency=serializable", "", "", ""); err != nil || status != 401 {
					return fmt.Errorf("member %d answers anonymous reads: %d %v", i, status, err)
				}
			}
			return nil
		})
		if r, err := s.Get(ctx, "/app/x"); err != nil || r.Node.Value != "1" {
			t.Fatalf("after auth was enabled: %+v %v", r, err)
		}
		if _, retried := client.LoginStats(cl); retried != 1 {
			t.Fatalf("%d requests sent again after a fresh login, want 1", retried)
		}
	})

	t.Run("password changed", func(t *testing.T) {
		cl := connect(t, client.NewClusterDefinitionHosts(hostOf(t, c.Members[1])).
			WithSystemSettings(client.SystemSettings{TendInterval: time.Hour, Timeout: 2 * time.Second}).
			WithNativeCredentials("alice", "alicepw"))
		s := cl.CreateSession(client.DefaultBehavior)
		if _, err := s.Put(ctx, "/app/x", "1"); err != nil {
			t.Fatal(err)
		}
		// The token dies with the old password, and logging in again with it fails.
		if status, body, err := c.AuthCall(0, "PUT", "/v2/auth/users/alice", `{"user":"alice","password":"changed"}`, "root", "rootpw"); err != nil || status != 200 {
			t.Fatalf("password change: %d %s %v", status, body, err)
		}
		testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
			_, err := s.Get(ctx, "/app/x")
			if !errors.Is(err, client.ErrUnauthorized) {
				return fmt.Errorf("after the password change: %v, want ErrUnauthorized", err)
			}
			return nil
		})
	})
}

// TestCertificateCredentials: the client certificate's CN is the user.
func TestCertificateCredentials(t *testing.T) {
	set := tlstest.NewSet(t, "alice")
	c := authCluster(t, time.Minute, testcluster.WithTLS(testcluster.TLS{Set: set, Client: true}))
	ctx := context.Background()
	def := client.NewClusterDefinitionHosts(seedNamed(t, c.Members[0], "127.0.0.1")).WithSystemSettings(fast)
	def.WithTLSConfigOf().CAFile(set.CAFile).CertFile(set.ClientCertFile).KeyFile(set.ClientKeyFile)
	cl := connect(t, def.WithCertificateCredentials())
	if cl == nil {
		t.Fatal("no cluster")
	}
	s := cl.CreateSession(client.DefaultBehavior)
	if _, err := s.Put(ctx, "/app/pki", "1"); err != nil {
		t.Fatalf("alice by certificate: %v", err)
	}
	if _, err := s.Put(ctx, "/other", "1"); !errors.Is(err, client.ErrUnauthorized) {
		t.Fatalf("outside alice's role: %v", err)
	}
}
