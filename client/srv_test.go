package client_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// publish puts c's client ports under service in d: one SRV record per member, each target with
// an A record.
func publish(t *testing.T, d *testcluster.DNSServer, service, zone string, c *testcluster.Cluster) {
	t.Helper()
	for _, m := range c.Members {
		_, port, err := net.SplitHostPort(strings.TrimPrefix(m.ClientURL, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		p, _ := strconv.Atoi(port)
		target := fmt.Sprintf("%s.%s.", m.Name, zone)
		d.Add(t, fmt.Sprintf("%s.%s. 60 IN SRV 0 0 %d %s", service, zone, p, target))
		d.Add(t, fmt.Sprintf("%s 60 IN A 127.0.0.1", target))
	}
}

// Seeds come from _etcd-client._tcp (the -ssl record missing is no error), under a service name
// too; with neither record, Connect names both.
func TestClusterDefinitionSRV(t *testing.T) {
	c := rackCluster(t, 3)
	d := testcluster.NewDNSServer(t)
	publish(t, d, "_etcd-client._tcp", "plain.test", c)
	publish(t, d, "_etcd-client-blue._tcp", "named.test", c)

	cl := connect(t, client.NewClusterDefinitionSRV("plain.test").WithResolver(d.Resolver()).WithSystemSettings(fast))
	waitNodes(t, cl, "n1", "n2", "n3")
	cl = connect(t, client.NewClusterDefinitionSRV("named.test").WithSRVServiceName("blue").WithResolver(d.Resolver()).WithSystemSettings(fast))
	waitNodes(t, cl, "n1", "n2", "n3")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := client.NewClusterDefinitionSRV("named.test").WithResolver(d.Resolver()).Connect(ctx)
	if err == nil {
		t.Fatal("connected without records under the plain service names")
	}
	for _, rec := range []string{"_etcd-client-ssl._tcp.named.test", "_etcd-client._tcp.named.test"} {
		if !strings.Contains(err.Error(), rec) {
			t.Errorf("error %q does not name %s", err, rec)
		}
	}
}

// When every node it knows is unreachable, the client looks the records up again and finds the
// cluster where they now point.
func TestSRVIsResolvedAgainWhenEveryNodeIsGone(t *testing.T) {
	old := rackCluster(t, 3)
	d := testcluster.NewDNSServer(t)
	publish(t, d, "_etcd-client._tcp", "moving.test", old)
	cl := connect(t, client.NewClusterDefinitionSRV("moving.test").WithResolver(d.Resolver()).WithSystemSettings(fast))
	waitNodes(t, cl, "n1", "n2", "n3")

	moved := rackCluster(t, 3)
	d.Remove("_etcd-client._tcp.moving.test")
	for _, m := range old.Members {
		d.Remove(m.Name + ".moving.test")
	}
	publish(t, d, "_etcd-client._tcp", "moving.test", moved)
	old.Close()

	s := cl.CreateSession(client.DefaultBehavior)
	testcluster.CheckFor(t, 30*time.Second, 100*time.Millisecond, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err := s.Put(ctx, "/found", "again")
		return err
	})
	if r, err := moved.Get(0, "/found", nil); err != nil || r.Node.Value != "again" {
		t.Fatalf("the write did not reach the cluster the records point to now: %v %+v", err, r)
	}
}
