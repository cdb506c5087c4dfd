// Package image tests Cairn's container image: three containers of it on a user-defined Docker
// network form a cluster and serve etcdctl, reached only through ports published on 127.0.0.1.
// It needs Docker; where Docker is absent it says so and skips.
package image

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func docker(t *testing.T, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func mustDocker(t *testing.T, args ...string) string {
	t.Helper()
	out, err := docker(t, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// buildImage builds the image with scripts/image.sh (`make image`) and returns its reference.
func buildImage(t *testing.T) string {
	t.Helper()
	build := exec.Command("bash", filepath.Join(repoRoot(t), "scripts", "image.sh"), "cairn")
	build.Stderr = os.Stderr
	out, err := build.Output()
	if err != nil {
		t.Fatalf("scripts/image.sh cairn: %v", err)
	}
	image := strings.TrimSpace(string(out))
	t.Logf("image %s", image)
	return image
}

// needDocker skips where Docker is absent, and fails where it is installed but does not
// answer, or where etcdctl (scripts/deps.sh) is missing.
func needDocker(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("Docker is absent (no docker on PATH): this test needs it and is skipped")
	}
	if _, err := exec.LookPath("etcdctl"); err != nil {
		t.Fatal("etcdctl not found: run scripts/deps.sh")
	}
	if out, err := docker(t, "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Fatalf("docker is installed but its daemon does not answer: %v\n%s", err, out)
	}
}

func TestThreeContainersServeEtcdctl(t *testing.T) {
	needDocker(t)
	image := buildImage(t)

	prefix := fmt.Sprintf("cairn-image-test-%06d", rand.IntN(1000000))
	network := prefix + "-net"
	mustDocker(t, "network", "create", network)
	var containers []string
	t.Cleanup(func() {
		for _, c := range containers {
			if out, err := docker(t, "rm", "-f", "-v", c); err != nil {
				t.Errorf("removing container %s: %v %s", c, err, out)
			}
		}
		if out, err := docker(t, "network", "rm", network); err != nil {
			t.Errorf("removing network %s: %v %s", network, err, out)
		}
	})
	names := []string{prefix + "-n1", prefix + "-n2", prefix + "-n3"}
	var initial []string
	for i, n := range names {
		initial = append(initial, fmt.Sprintf("n%d=http://%s:2380", i+1, n))
	}
	var endpoints []string
	for i, n := range names {
		mustDocker(t, "run", "-d", "--name", n, "--network", network, "--network-alias", n,
			"-p", "127.0.0.1::2379", image,
			"--name", fmt.Sprintf("n%d", i+1), "--data-dir", "/var/lib/cairn/data",
			"--listen-client-urls", "http://0.0.0.0:2379", "--advertise-client-urls", "http://"+n+":2379",
			"--listen-peer-urls", "http://0.0.0.0:2380", "--initial-advertise-peer-urls", "http://"+n+":2380",
			"--initial-cluster", strings.Join(initial, ","), "--initial-cluster-token", prefix)
		containers = append(containers, n)
		port := mustDocker(t, "port", n, "2379/tcp")
		// "127.0.0.1:49153", possibly followed by an IPv6 line; only the loopback one is used.
		addr := strings.Split(port, "\n")[0]
		if !strings.HasPrefix(addr, "127.0.0.1:") {
			t.Fatalf("container %s published %q, want 127.0.0.1 only", n, port)
		}
		endpoints = append(endpoints, "http://"+addr)
	}
	etcdctl := func(args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		// --no-sync: the members advertise their names on the Docker network, which this host
		// cannot resolve; the test reaches them only through the published ports.
		cmd := exec.CommandContext(ctx, "etcdctl", append([]string{"--no-sync", "--endpoints", strings.Join(endpoints, ",")}, args...)...)
		cmd.Env = append(os.Environ(), "ETCDCTL_API=2")
		out, err := cmd.CombinedOutput()
		return strings.TrimSpace(string(out)), err
	}
	// cluster-health would dial the members' advertised URLs (names on the Docker network);
	// a committed write through the published ports shows the cluster formed instead.
	deadline := time.Now().Add(90 * time.Second)
	for {
		out, err := etcdctl("set", "/image/test", "hello")
		if err == nil && out == "hello" {
			break
		}
		if time.Now().After(deadline) {
			logs, _ := docker(t, "logs", "--tail", "30", names[0])
			t.Fatalf("no write committed within 90s: %v\n%s\nlogs of %s:\n%s", err, out, names[0], logs)
		}
		time.Sleep(500 * time.Millisecond)
	}
	// Every member serves the value, each through its own published port.
	for _, ep := range endpoints {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		cmd := exec.CommandContext(ctx, "etcdctl", "--no-sync", "--endpoints", ep, "get", "/image/test")
		cmd.Env = append(os.Environ(), "ETCDCTL_API=2")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil || strings.TrimSpace(string(out)) != "hello" {
			t.Fatalf("get through %s: %v %s", ep, err, out)
		}
	}
	out2, err := etcdctl("member", "list")
	if err != nil || strings.Count(out2, "name=") != 3 {
		t.Fatalf("member list: %v\n%s", err, out2)
	}
	t.Logf("three containers of %s serve etcdctl through %s", image, strings.Join(endpoints, ","))
}
