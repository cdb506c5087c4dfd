// Package quorum_test checks the quorum-query port of a real cairnd process from outside: a
// node started with a key answers signed queries, and a node given an unusable key file
// refuses to start.
package quorum_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	cquorum "github.com/cairn-io/cairn/client/quorum"
	"github.com/cairn-io/cairn/test/procs"
)

func TestMain(m *testing.M) {
	if procs.IsEtcd() {
		// etcd has no quorum port; nothing here applies to it.
		fmt.Println("quorum: skipped for target etcd")
		os.Exit(0)
	}
	os.Exit(procs.Main(m))
}

func freeUDPPort(t *testing.T) int {
	t.Helper()
	conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.LocalAddr().(*net.UDPAddr).Port
}

func TestCairndAnswersPing(t *testing.T) {
	key := filepath.Join(t.TempDir(), "quorum.key")
	if err := os.WriteFile(key, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t))
	n := procs.StartNode(t, procs.Options{Args: []string{
		"--listen-quorum-url", "udp://" + addr, "--quorum-hmac-key-file", key}})

	// The trailing newline in the file is not part of the key.
	c, err := cquorum.NewClient([]byte("s3cret"), []string{addr}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r, err := c.Query(ctx, cquorum.Request{Type: cquorum.QueryPing})
	if err != nil {
		t.Fatal(err)
	}
	if r.Answer != "true" || r.Node != n.Name || r.Index == 0 {
		t.Fatalf("ping answered %+v", r)
	}
}

func TestCairndRefusesUnusableKeyFile(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "empty.key")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, file, want string }{
		{"missing", filepath.Join(dir, "missing.key"), "does not exist"},
		{"empty", empty, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := procs.NewCluster(t, 1, procs.Options{Args: []string{"--quorum-hmac-key-file", tc.file}})
			n := c.Nodes[0]
			if err := n.Launch(); err != nil {
				t.Fatal(err)
			}
			deadline := time.Now().Add(20 * time.Second)
			for n.ExitState() == nil {
				if time.Now().After(deadline) {
					t.Fatal("cairnd still running with an unusable key file")
				}
				time.Sleep(20 * time.Millisecond)
			}
			if code := n.ExitState().ExitCode(); code == 0 {
				t.Fatalf("cairnd exited with status 0")
			}
			out := n.LogTail(20)
			if !strings.Contains(out, "cairnd: --quorum-hmac-key-file: ") || !strings.Contains(out, tc.file) ||
				!strings.Contains(out, tc.want) {
				t.Fatalf("output does not explain the failure:\n%s", out)
			}
		})
	}
}
