package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/testcluster"
)

var (
	sharedBinOnce sync.Once
	sharedBin     string
	sharedBinErr  error
)

// cairnctlBinary builds the real binary once for every test of the package that shares it.
func cairnctlBinary(t *testing.T) string {
	t.Helper()
	sharedBinOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cairnctl-test")
		if err != nil {
			sharedBinErr = err
			return
		}
		sharedBin = dir + "/cairnctl"
		out, err := exec.Command("go", "build", "-o", sharedBin, ".").CombinedOutput()
		if err != nil {
			sharedBinErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if sharedBinErr != nil {
		t.Fatal(sharedBinErr)
	}
	return sharedBin
}

func TestMain(m *testing.M) {
	code := m.Run()
	if sharedBin != "" {
		os.RemoveAll(strings.TrimSuffix(sharedBin, "/cairnctl"))
	}
	os.Exit(code)
}

// ctl runs the real cairnctl binary with args put before every command's own, and env added
// to the test's environment (without any CAIRNCTL_* of the machine running the tests).
type ctl struct {
	t    *testing.T
	bin  string
	args []string
	env  []string
	// wrap, when set, runs the binary through another command (unshare ...).
	wrap []string
	// stdin is the command's input (a password).
	stdin string
}

func newCtl(t *testing.T, args ...string) ctl {
	return ctl{t: t, bin: cairnctlBinary(t), args: args}
}

func (c ctl) with(env ...string) ctl {
	c.env = append(append([]string(nil), c.env...), env...)
	return c
}

func (c ctl) run(args ...string) (string, string, int) {
	c.t.Helper()
	argv := append(append(append([]string(nil), c.wrap...), c.bin), append(append([]string(nil), c.args...), args...)...)
	cmd := exec.Command(argv[0], argv[1:]...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, envPrefix) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, c.env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.Stdin = strings.NewReader(c.stdin)
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// succeed runs the command until it exits 0 (a cluster on a loaded machine may be between
// leaders for a moment) and returns its output.
func (c ctl) succeed(args ...string) string {
	c.t.Helper()
	var out string
	testcluster.CheckFor(c.t, 20*time.Second, 50*time.Millisecond, func() error {
		o, errOut, code := c.run(args...)
		if code != 0 {
			return fmt.Errorf("cairnctl %v: exit %d: %s", args, code, errOut)
		}
		out = o
		return nil
	})
	return out
}

// fail runs the command once and wants it to fail with want in its error output.
func (c ctl) fail(want string, args ...string) {
	c.t.Helper()
	out, errOut, code := c.run(args...)
	if code == 0 || !strings.Contains(errOut, want) {
		c.t.Fatalf("cairnctl %v: exit %d, stdout %q, stderr %q; want a failure saying %q", args, code, out, errOut, want)
	}
}
