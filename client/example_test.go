package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/node"
)

// exampleNode starts a real single-node Cairn cluster named "prod" in rack 1 for the examples
// and returns its client port and a stop function.
func exampleNode() (int, func()) {
	dir, err := os.MkdirTemp("", "cairn-example")
	if err != nil {
		panic(err)
	}
	cl, _ := net.Listen("tcp", "127.0.0.1:0")
	pl, _ := net.Listen("tcp", "127.0.0.1:0")
	n, err := node.Start(node.Config{Name: "n1", DataDir: dir, ClusterName: "prod", RackID: 1,
		ListenClientURLs: []string{"http://" + cl.Addr().String()}, ListenPeerURLs: []string{"http://" + pl.Addr().String()},
		ClientListener: cl, PeerListener: pl, ElectionTimeout: 300 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		panic(err)
	}
	_, port, _ := net.SplitHostPort(cl.Addr().String())
	p, _ := strconv.Atoi(port)
	return p, func() { n.Stop(); os.RemoveAll(dir) }
}

func Example() {
	port, stop := exampleNode()
	defer stop()
	ctx := context.Background()

	cluster, err := client.NewClusterDefinition("127.0.0.1", port).
		ValidateClusterNameIs("prod").
		PreferringRacks(1).
		Connect(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()

	s := cluster.CreateSession(client.DefaultBehavior)
	if _, err := s.Put(ctx, "/config/feature", "on", client.WithTTL(time.Hour)); err != nil {
		fmt.Println(err)
		return
	}
	r, err := s.Get(ctx, "/config/feature")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Node.Key, r.Node.Value, r.ServedBy)

	_, err = s.Get(ctx, "/config/missing")
	fmt.Println(errors.Is(err, client.ErrKeyNotFound))
	// Output:
	// /config/feature on n1
	// true
}

func ExampleParseHosts() {
	hosts, err := client.ParseHosts("db1:2379,db2,[::1]:22379,10.0.0.7:db7.example:2379", 2379)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range hosts {
		fmt.Printf("%q %q %d\n", h.Name, h.TLSName, h.Port)
	}
	_, err = client.ParseHosts("db1:http", 2379)
	fmt.Println(err)
	// Output:
	// "db1" "" 2379
	// "db2" "" 2379
	// "::1" "" 22379
	// "10.0.0.7" "db7.example" 2379
	// host "db1:http": port "http" is not an integer
}

func ExampleSession_CompareAndSwap() {
	port, stop := exampleNode()
	defer stop()
	ctx := context.Background()
	cluster, err := client.NewClusterDefinition("127.0.0.1", port).Connect(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	s := cluster.CreateSession(client.DefaultBehavior)

	r, _ := s.Put(ctx, "/lock", "free")
	_, err = s.CompareAndSwap(ctx, "/lock", "mine", client.PrevValue("taken"))
	fmt.Println(errors.Is(err, client.ErrTestFailed))
	r, err = s.CompareAndSwap(ctx, "/lock", "mine", client.PrevIndex(r.Node.ModifiedIndex))
	fmt.Println(r.PrevNode.Value, "->", r.Node.Value, err)
	// Output:
	// true
	// free -> mine <nil>
}

func ExampleSession_Watch() {
	port, stop := exampleNode()
	defer stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cluster, err := client.NewClusterDefinition("127.0.0.1", port).Connect(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()
	s := cluster.CreateSession(client.DefaultBehavior)

	start, _ := s.Put(ctx, "/jobs/0", "queued")
	// Start after the write above, so the example does not race the watch's registration.
	events := s.Watch(ctx, "/jobs", client.Recursive(), client.WaitIndex(start.Node.ModifiedIndex+1))
	s.Put(ctx, "/jobs/1", "queued")
	s.Delete(ctx, "/jobs/1")
	for i := 0; i < 2; i++ {
		ev := <-events
		if errors.Is(ev.Err, client.ErrEventIndexCleared) {
			fmt.Println("missed events: re-read /jobs and watch again")
			return
		}
		fmt.Println(ev.Response.Action, ev.Response.Node.Key)
	}
	// Output:
	// set /jobs/1
	// delete /jobs/1
}

func ExampleMembers() {
	port, stop := exampleNode()
	defer stop()
	ctx := context.Background()
	cluster, err := client.NewClusterDefinition("127.0.0.1", port).Connect(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer cluster.Close()

	ms, err := cluster.Members().All(ctx)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, m := range ms {
		fmt.Println(m.ServerName, m.Roles, m.Status, "rack", m.FailureDomain)
	}
	for _, n := range cluster.Nodes() {
		fmt.Println(n.Name, n.Leader, n.Reachable)
	}
	// Output:
	// n1 [database-leader database-voter] Online rack 1
	// n1 true true
}
