package image

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/ports"
)

// TestComposeClusterServesThroughAStoppedMember brings deploy/docker-compose.yml up as a user
// would (on free host ports and a fresh project), writes through one member, stops another,
// writes again, starts it and reads the second write from it (its volume kept its state and it
// caught up), then takes everything down with its volumes and checks none is left.
func TestComposeClusterServesThroughAStoppedMember(t *testing.T) {
	needDocker(t)
	compose, err := exec.LookPath("docker-compose")
	if err != nil {
		t.Fatal("docker-compose not found: run scripts/deps.sh (Debian's docker-compose)")
	}
	image := buildImage(t)
	start := time.Now()
	project := fmt.Sprintf("cairncompose%06d", rand.IntN(1000000))
	file := filepath.Join(repoRoot(t), "deploy", "docker-compose.yml")
	env := append(os.Environ(), "CAIRN_IMAGE="+image, "CAIRN_TOKEN="+project)
	run := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, compose, append([]string{"-p", project, "-f", file}, args...)...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			// The output carries docker's reason (a port taken, say) for ports.InUse to read.
			err = fmt.Errorf("docker-compose %s: %w: %s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out)), err
	}
	t.Cleanup(func() {
		if _, err := run("down", "-v", "--remove-orphans"); err != nil {
			t.Errorf("%v", err)
		}
		if out, _ := docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+project); out != "" {
			t.Errorf("volumes left after down -v: %s", out)
		}
	})

	endpoints := map[string]string{}
	err = ports.Retry(2*time.Minute, func() error {
		for i := 1; i <= 3; i++ {
			p, err := ports.Free("127.0.0.1")
			if err != nil {
				return err
			}
			env = append(env, fmt.Sprintf("CAIRN%d_PORT=%d", i, p))
			endpoints[fmt.Sprintf("cairn%d", i)] = fmt.Sprintf("http://127.0.0.1:%d", p)
		}
		_, err := run("up", "-d")
		if ports.InUse(err) {
			_, _ = run("down", "-v")
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Only loopback is published.
	for svc := range endpoints {
		out, err := run("port", svc, "2379")
		if err != nil || !strings.HasPrefix(out, "127.0.0.1:") {
			t.Fatalf("%s publishes %q (%v), want 127.0.0.1 only", svc, out, err)
		}
	}

	etcdctl := func(endpoint string, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "etcdctl", append([]string{"--no-sync", "--endpoints", endpoint}, args...)...)
		cmd.Env = append(os.Environ(), "ETCDCTL_API=2")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	until := func(what string, timeout time.Duration, f func() error) {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for {
			err := f()
			if err == nil {
				return
			}
			if time.Now().After(deadline) {
				logs, _ := run("logs", "--tail", "20")
				t.Fatalf("%s within %s: %v\n%s", what, timeout, err, logs)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	want := func(endpoint, key, value string) func() error {
		return func() error {
			out, err := etcdctl(endpoint, "get", key)
			if err != nil || out != value {
				return fmt.Errorf("get %s through %s: %v %q, want %q", key, endpoint, err, out, value)
			}
			return nil
		}
	}
	set := func(endpoint, key, value string) func() error {
		return func() error {
			out, err := etcdctl(endpoint, "set", key, value)
			if err != nil || out != value {
				return fmt.Errorf("set %s through %s: %v %q", key, endpoint, err, out)
			}
			return nil
		}
	}

	t.Logf("up: %s", time.Since(start).Round(time.Millisecond))
	until("a write through cairn1", 90*time.Second, set(endpoints["cairn1"], "/compose/a", "one"))
	for svc, ep := range endpoints {
		until("cairn1's write on "+svc, 30*time.Second, want(ep, "/compose/a", "one"))
	}
	t.Logf("written and read everywhere: %s", time.Since(start).Round(time.Millisecond))
	if _, err := run("stop", "cairn3"); err != nil {
		t.Fatal(err)
	}
	if _, err := etcdctl(endpoints["cairn3"], "get", "/compose/a"); err == nil {
		t.Fatal("cairn3 still answers after docker-compose stop")
	}
	until("a write through cairn2 with cairn3 stopped", 30*time.Second, set(endpoints["cairn2"], "/compose/b", "two"))
	t.Logf("stopped cairn3 and wrote: %s", time.Since(start).Round(time.Millisecond))
	if _, err := run("start", "cairn3"); err != nil {
		t.Fatal(err)
	}
	until("cairn3 back with the write it missed", 60*time.Second, want(endpoints["cairn3"], "/compose/b", "two"))
	until("cairn3's own first write kept in its volume", 10*time.Second, want(endpoints["cairn3"], "/compose/a", "one"))
	if out, err := etcdctl(endpoints["cairn1"], "member", "list"); err != nil || strings.Count(out, "name=") != 3 {
		t.Fatalf("member list: %v\n%s", err, out)
	}
	t.Logf("cairn3 caught up: %s", time.Since(start).Round(time.Millisecond))
	if _, err := run("down", "-v"); err != nil {
		t.Fatal(err)
	}
	t.Logf("down: %s", time.Since(start).Round(time.Millisecond))
	if out, _ := docker(t, "volume", "ls", "-q", "--filter", "label=com.docker.compose.project="+project); out != "" {
		t.Fatalf("volumes left after down -v: %s", out)
	}
}
