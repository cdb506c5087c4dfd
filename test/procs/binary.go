// Package procs runs real server processes for black-box tests: it builds
// cairnd once per test binary (or uses $CAIRND_BIN), allocates loopback
// ports, starts single nodes or static clusters, stops, kills and restarts
// them on the same data directory, and keeps each process's output in a file
// whose tail is printed when a test fails.
//
// The same tests can run against real etcd 3.4 (CAIRN_COMPAT_TARGET=etcd),
// which starts `etcd --enable-v2=true` with the same flags; that is how the
// tests prove they encode etcd's real behaviour.
//
// procs never reaches into Cairn's packages: it only knows the command line,
// the HTTP endpoints and the exit status, like any operator would.
package procs

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// Target names the server implementation under test.
type Target string

const (
	TargetCairnd Target = "cairnd"
	TargetEtcd   Target = "etcd"
)

// TargetEnv selects the implementation: "cairnd" (default) or "etcd".
const TargetEnv = "CAIRN_COMPAT_TARGET"

var (
	binMu   sync.Mutex
	binPath string
)

// CurrentTarget reads TargetEnv.
func CurrentTarget() Target {
	if os.Getenv(TargetEnv) == string(TargetEtcd) {
		return TargetEtcd
	}
	return TargetCairnd
}

// IsEtcd reports whether the tests run against real etcd.
func IsEtcd() bool { return CurrentTarget() == TargetEtcd }

// Main prepares the server binary and runs the tests; call it from TestMain
// as os.Exit(procs.Main(m)). It builds cairnd into a temporary directory
// unless $CAIRND_BIN names one, or looks up etcd ($ETCD_BIN or PATH) when
// the target is etcd. It fails the run when no binary can be had, because
// every test in a package using procs needs one.
func Main(m *testing.M) int {
	bin, cleanup, err := prepareBinary()
	if err != nil {
		fmt.Fprintf(os.Stderr, "procs: %v\n", err)
		return 1
	}
	defer cleanup()
	binMu.Lock()
	binPath = bin
	binMu.Unlock()
	return m.Run()
}

// Binary returns the server binary prepared by Main.
func Binary() string {
	binMu.Lock()
	defer binMu.Unlock()
	return binPath
}

func prepareBinary() (string, func(), error) {
	noop := func() {}
	if IsEtcd() {
		if p := os.Getenv("ETCD_BIN"); p != "" {
			return p, noop, nil
		}
		p, err := exec.LookPath("etcd")
		if err != nil {
			return "", noop, fmt.Errorf("target etcd: no etcd binary in PATH (run scripts/deps.sh): %w", err)
		}
		return p, noop, nil
	}
	if p := os.Getenv("CAIRND_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", noop, fmt.Errorf("CAIRND_BIN: %w", err)
		}
		return p, noop, nil
	}
	root, err := moduleRoot()
	if err != nil {
		return "", noop, err
	}
	dir, err := os.MkdirTemp("", "cairnd-bin-")
	if err != nil {
		return "", noop, err
	}
	out := filepath.Join(dir, "cairnd")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/cairnd")
	cmd.Dir = root
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		os.RemoveAll(dir)
		return "", noop, fmt.Errorf("go build ./cmd/cairnd: %v\n%s", err, buf.String())
	}
	return out, func() { os.RemoveAll(dir) }, nil
}

// moduleRoot walks up from the working directory (a test's package
// directory) to the directory holding go.mod.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory")
		}
		dir = parent
	}
}
