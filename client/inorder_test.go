package client_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/client"
)

// In-order keys are created under the directory, each sorting after the one before.
func TestCreateInOrder(t *testing.T) {
	c := rackCluster(t, 3)
	cl := connect(t, client.NewClusterDefinition(hostOf(t, c.Members[1]).Name, hostOf(t, c.Members[1]).Port).WithSystemSettings(fast))
	s := cl.CreateSession(client.DefaultBehavior)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var last string
	for _, v := range []string{"a", "b", "c"} {
		r, err := s.CreateInOrder(ctx, "/queue", v, client.WithTTL(time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		if r.Action != "create" || !strings.HasPrefix(r.Node.Key, "/queue/") || r.Node.Key <= last || r.Node.Value != v || r.Node.TTL <= 0 {
			t.Fatalf("CreateInOrder %q: %+v %+v (previous key %q)", v, r, r.Node, last)
		}
		last = r.Node.Key
	}
	l, err := s.List(ctx, "/queue")
	if err != nil || len(l.Node.Nodes) != 3 || l.Node.Nodes[2].Key != last {
		t.Fatalf("list: %v %+v", err, l)
	}
}
