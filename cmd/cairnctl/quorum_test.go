package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/client"
	cquorum "github.com/cairn-io/cairn/client/quorum"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

func runQuorum(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newRootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(append([]string{"quorum"}, args...))
	err := cmd.ExecuteContext(context.Background())
	return out.String(), err
}

func TestQuorumCommand(t *testing.T) {
	key := []byte("cairnctl-quorum-key")
	c := testcluster.New(t, 3, testcluster.WithQuorum(key))
	leader := c.WaitLeader(t)
	put, err := c.Put(leader.Index, "/app/color", "blue")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, key, 0o600)
	common := []string{"--quorum-hmac-key-file", keyFile, "--quorum-peers", strings.Join(c.QuorumAddrs(), ",")}
	run := func(args ...string) (string, error) { return runQuorum(t, append(args, common...)...) }

	// Followers apply the write a moment after the leader, and a quorum read trusts the replies
	// that come first: wait until every member has applied it, so each run below is decided.
	for _, m := range c.Members {
		testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
			r, err := c.Get(m.Index, "/app/color", url.Values{"consistency": {"serializable"}})
			if err != nil {
				return err
			}
			if r.Node.ModifiedIndex < put.Node.ModifiedIndex {
				return fmt.Errorf("%s has applied up to %d", m.Name, r.Node.ModifiedIndex)
			}
			return nil
		})
	}
	var out string
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		out, err = run("get", "app/color")
		return err
	})
	if !strings.Contains(out, "/app/color") || !strings.Contains(out, "blue") ||
		!strings.Contains(out, strconv.FormatUint(put.Node.ModifiedIndex, 10)) {
		t.Fatalf("get printed:\n%s", out)
	}

	out, err = run("get", "/app/color", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var js struct {
		Node   string
		Index  uint64
		Answer cquorum.KeyAnswer
	}
	if err := json.Unmarshal([]byte(out), &js); err != nil || js.Answer.Value != "blue" || js.Node == "" || js.Index == 0 {
		t.Fatalf("get -o json printed %q (%v)", out, err)
	}

	if out, err = run("ping"); err != nil || !strings.Contains(out, "ANSWERED BY") {
		t.Fatalf("ping: %q, %v", out, err)
	}
	if out, err = run("leader"); err != nil || !strings.Contains(out, leader.Name) || !strings.Contains(out, leader.ClientURL) {
		t.Fatalf("leader: %q, %v", out, err)
	}
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		out, err = run("members")
		if err != nil {
			return err
		}
		roles := map[string]string{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n")[1:] {
			if f := strings.Fields(line); len(f) == 4 {
				roles[f[0]] = f[1]
			}
		}
		for _, m := range c.Members {
			want := "follower"
			if m == leader {
				want = "leader"
			}
			if roles[m.Name] != want {
				return fmt.Errorf("%s is %q, want %q; members printed:\n%s", m.Name, roles[m.Name], want, out)
			}
		}
		if len(roles) != 3 {
			return fmt.Errorf("members printed:\n%s", out)
		}
		return nil
	})

	if _, err = run("get", "/nope"); err == nil || !strings.Contains(err.Error(), "/nope: key not found") {
		t.Fatalf("missing key: %v", err)
	}

	// Two members down: no answer is trusted.
	c.Kill(1)
	c.Kill(2)
	if _, err = run("ping", "--timeout", "500ms"); err == nil || !strings.Contains(err.Error(), "not enough replies") {
		t.Fatalf("ping with one member of three: %v", err)
	}
}

func TestQuorumCommandErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := runQuorum(t, "ping", "--quorum-hmac-key-file", filepath.Join(dir, "none"), "--quorum-peers", "127.0.0.1"); err == nil ||
		!strings.Contains(err.Error(), "--quorum-hmac-key-file: ") || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing key file: %v", err)
	}
	keyFile := filepath.Join(dir, "key")
	os.WriteFile(keyFile, []byte("k"), 0o600)
	if _, err := runQuorum(t, "ping", "--quorum-hmac-key-file", keyFile, "-o", "yaml"); err == nil || !strings.Contains(err.Error(), "want table or json") {
		t.Fatalf("bad -o: %v", err)
	}
	if _, err := runQuorum(t, "ping", "--quorum-hmac-key-file", keyFile, "--hosts", "127.0.0.1:1", "--timeout", "2s"); err == nil ||
		!strings.Contains(err.Error(), "give --quorum-peers") {
		t.Fatalf("unreachable hosts: %v", err)
	}
}

// Without --quorum-peers, quorum connects through the SDK as every command does and asks each
// member at the quorum port the cluster view publishes: no port is assumed, --cluster-name is
// checked, and --services-alternate takes the host of the alternate client URL.
func TestQuorumDiscovery(t *testing.T) {
	key := []byte("cairnctl-quorum-discovery")
	c := testcluster.New(t, 3, testcluster.WithQuorum(key), testcluster.WithConfig(func(i int, cfg *node.Config) {
		cfg.ClusterName = "prod"
		// The alternate URL names another loopback address: only --services-alternate uses it.
		cfg.AdvertiseAlternateClientURLs = []string{fmt.Sprintf("http://localhost:%d", 10000+i)}
	}))
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, key, 0o600)
	hosts := strings.TrimPrefix(c.Members[0].ClientURL, "http://")
	var out string
	var err error
	testcluster.CheckFor(t, 20*time.Second, 50*time.Millisecond, func() error {
		out, err = runQuorum(t, "members", "--hosts", hosts, "--cluster-name", "prod", "--quorum-hmac-key-file", keyFile, "--timeout", "3s")
		if err != nil {
			return err
		}
		for _, m := range c.Members {
			if !strings.Contains(out, m.Name) {
				return fmt.Errorf("members printed:\n%s", out)
			}
		}
		return nil
	})
	if _, err := runQuorum(t, "ping", "--hosts", hosts, "--cluster-name", "other", "--quorum-hmac-key-file", keyFile, "--timeout", "3s"); err == nil ||
		!strings.Contains(err.Error(), "cluster name mismatch") {
		t.Fatalf("--cluster-name other: %v", err)
	}

	cl, err := (&globalFlags{hosts: hosts, timeout: 5 * time.Second, output: "table"}).connect(t.Context(), newRootCommand())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var ms []client.Member
	// Members publish their quorum ports once the cluster version allows it, moments after start.
	testcluster.CheckFor(t, 15*time.Second, 50*time.Millisecond, func() error {
		ms, err = cl.Members().All(t.Context())
		if err == nil && len(ms) != 3 {
			err = fmt.Errorf("%d members", len(ms))
		}
		for _, m := range ms {
			if err == nil && m.QuorumPort == 0 {
				err = fmt.Errorf("%s has published no quorum port yet", m.ServerName)
			}
		}
		return err
	})
	want := map[string]bool{}
	wantAlt := map[string]bool{}
	for _, m := range c.Members {
		want[m.QuorumAddr()] = true
		_, port, _ := net.SplitHostPort(m.QuorumAddr())
		wantAlt["localhost:"+port] = true
	}
	for _, tc := range []struct {
		alternate bool
		want      map[string]bool
	}{{false, want}, {true, wantAlt}} {
		got, err := quorumAddrs(ms, tc.alternate)
		if err != nil {
			t.Fatal(err)
		}
		gotSet := map[string]bool{}
		for _, a := range got {
			gotSet[a] = true
		}
		if !maps.Equal(gotSet, tc.want) {
			t.Fatalf("alternate %v: quorum addresses %v, want %v", tc.alternate, got, tc.want)
		}
	}
	// A member that publishes no port is not asked; none publishing one is an error.
	for i := range ms {
		ms[i].QuorumPort = 0
	}
	if _, err := quorumAddrs(ms, false); err == nil || !strings.Contains(err.Error(), "no member publishes a quorum port") {
		t.Fatalf("no ports: %v", err)
	}
}
