package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// buildCairnctl builds the real binary once per test.
func buildCairnctl(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "cairnctl")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestCairnctlAgainstCluster(t *testing.T) {
	bin := buildCairnctl(t)
	c := testcluster.New(t, 3, testcluster.WithElectionTimeout(300*time.Millisecond),
		testcluster.WithConfig(func(i int, cfg *node.Config) { cfg.ClusterName = "prod"; cfg.RackID = i + 1 }))
	hosts := strings.TrimPrefix(c.Members[0].ClientURL, "http://")
	run := func(args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--hosts", hosts, "--cluster-name", "prod"}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	mustRun := func(args ...string) string {
		t.Helper()
		out, errOut, code := run(args...)
		if code != 0 {
			t.Fatalf("cairnctl %v: exit %d: %s", args, code, errOut)
		}
		return out
	}

	// From index 1 the watch sees the write below whenever it registers.
	watch := exec.Command(bin, "--hosts", hosts, "watch", "/app/color", "--index", "1", "--count", "1")
	var watchOut bytes.Buffer
	watch.Stdout = &watchOut
	if err := watch.Start(); err != nil {
		t.Fatal(err)
	}
	mustRun("mkdir", "/app")
	if out := mustRun("ls", "/"); !strings.Contains(out, "/app") {
		t.Fatalf("ls / after mkdir: %q", out)
	}
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		_, _, code := run("put", "/app/color", "blue", "--ttl", "1h")
		if code != 0 {
			return exec.ErrNotFound
		}
		return nil
	})
	if err := watch.Wait(); err != nil || !strings.Contains(watchOut.String(), "/app/color") {
		t.Fatalf("watch: %v, %q", err, watchOut.String())
	}
	if out := mustRun("get", "/app/color"); !strings.Contains(out, "blue") || !strings.Contains(out, "KEY") {
		t.Fatalf("get table: %q", out)
	}
	var got struct {
		Node     struct{ Value string }
		ServedBy string
	}
	if err := json.Unmarshal([]byte(mustRun("get", "/app/color", "-o", "json")), &got); err != nil || got.Node.Value != "blue" || got.ServedBy == "" {
		t.Fatalf("get json: %+v %v", got, err)
	}
	if out := mustRun("ls", "/app"); !strings.Contains(out, "/app/color") {
		t.Fatalf("ls: %q", out)
	}
	if _, errOut, code := run("get", "/app/missing"); code == 0 || !strings.Contains(errOut, "Key not found") {
		t.Fatalf("missing key: exit %d, %q", code, errOut)
	}
	if _, errOut, code := run("put", "/app/color", "red", "--prev-value", "green"); code == 0 || !strings.Contains(errOut, "Compare failed") {
		t.Fatalf("failed compare: exit %d, %q", code, errOut)
	}
	mustRun("rm", "/app/color")
	if _, errOut, code := run("get", "/app/color"); code == 0 || !strings.Contains(errOut, "Key not found") {
		t.Fatalf("get after rm: exit %d, %q", code, errOut)
	}
	mustRun("rm", "/app", "--dir")
	if _, errOut, code := run("ls", "/app"); code == 0 || !strings.Contains(errOut, "Key not found") {
		t.Fatalf("ls after rm --dir: exit %d, %q", code, errOut)
	}

	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		out := mustRun("member", "list")
		if strings.Count(out, "Online") != 3 || !strings.Contains(out, "database-leader") {
			return &exec.Error{Name: out}
		}
		return nil
	})
	var ms []struct{ ServerName string }
	if err := json.Unmarshal([]byte(mustRun("member", "list", "-o", "json")), &ms); err != nil || len(ms) != 3 {
		t.Fatalf("member list json: %+v %v", ms, err)
	}
	for _, m := range ms {
		if !strings.HasPrefix(m.ServerName, "n") {
			t.Fatalf("member list json names %+v", ms)
		}
	}
	mustRun("member", "evacuate", "n2")
	if out := mustRun("member", "list"); !strings.Contains(out, "Evacuated") {
		t.Fatalf("after evacuate: %q", out)
	}
	mustRun("member", "restore", "n2")
	testcluster.CheckFor(t, 10*time.Second, 50*time.Millisecond, func() error {
		if out := mustRun("member", "list"); strings.Contains(out, "Evacuated") || strings.Count(out, "Online") != 3 {
			return fmt.Errorf("after restore: %q", out)
		}
		return nil
	})
	if _, errOut, code := run("member", "evacuate", "nobody"); code == 0 || !strings.Contains(errOut, "not found") {
		t.Fatalf("unknown member: exit %d %q", code, errOut)
	}
	if out := mustRun("cluster", "info"); !strings.Contains(out, "leader: n") || strings.Count(out, "true") < 3 {
		t.Fatalf("cluster info: %q", out)
	}
	if out := mustRun("health"); !strings.Contains(out, "healthy") {
		t.Fatalf("health: %q", out)
	}
	if _, errOut, code := run("--cluster-name", "other", "health"); code == 0 || !strings.Contains(errOut, "cluster name mismatch") {
		t.Fatalf("name mismatch: exit %d %q", code, errOut)
	}
	if _, errOut, code := run("--hosts", "h:x", "health"); code == 0 || !strings.Contains(errOut, "not an integer") {
		t.Fatalf("bad hosts: exit %d %q", code, errOut)
	}
	if _, _, code := run("-o", "yaml", "health"); code == 0 {
		t.Fatal("-o yaml accepted")
	}
}
