package ui

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/cairn-io/cairn/test/procs"
)

func TestMain(m *testing.M) { os.Exit(procs.Main(m)) }

// browserTimeout bounds everything one test does in the browser.
const browserTimeout = 4 * time.Minute

// browser is one headless chromium with one tab, and what the page reported on its console.
type browser struct {
	t         *testing.T
	ctx       context.Context
	artifacts string
	shots     int

	mu       sync.Mutex
	problems []string
}

// chromiumPath finds Debian's chromium. It fails the test when there is none: scripts/deps.sh
// installs it, and a dashboard test that skips would pass on a machine that tests nothing.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: run scripts/deps.sh (make deps), which installs Debian's chromium")
	return ""
}

// artifactsDir is where a test's screenshots stay after it: outside the source tree and
// outside the test's temporary directories, emptied of an earlier run's.
func artifactsDir(t *testing.T) string {
	t.Helper()
	base := os.Getenv("CAIRN_ARTIFACTS")
	if base == "" {
		cache := os.Getenv("CAIRN_CACHE")
		if cache == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Fatalf("no CAIRN_ARTIFACTS, CAIRN_CACHE nor home directory for the screenshots: %v", err)
			}
			cache = filepath.Join(home, ".cache", "cairn")
		}
		base = filepath.Join(cache, "artifacts")
	}
	dir := filepath.Join(base, "ui", t.Name())
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots of %s go to %s", t.Name(), dir)
	return dir
}

// newBrowser starts headless chromium. It talks to chromedp over a pipe, so it opens no
// debugging port; --no-sandbox only when running as root, where chromium refuses to start
// with its sandbox. insecureTLS accepts the test CA's certificates, which chromium's own store
// does not know.
func newBrowser(t *testing.T, insecureTLS bool) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.WindowSize(1400, 1300),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-background-networking", true),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox)
	} else {
		opts = append(opts, chromedp.Flag("no-sandbox", false))
	}
	if insecureTLS {
		opts = append(opts, chromedp.Flag("ignore-certificate-errors", true))
	}
	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	t.Cleanup(cancel)
	actx, acancel := chromedp.NewExecAllocator(ctx, opts...)
	t.Cleanup(acancel)
	bctx, bcancel := chromedp.NewContext(actx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(bcancel)
	b := &browser{t: t, ctx: bctx, artifacts: artifactsDir(t)}
	if err := chromedp.Do(bctx); err != nil {
		t.Fatalf("starting %s: %v", chromiumPath(t), err)
	}
	// Subscribed before the first page loads, so nothing the page reports is missed.
	msgs := chromedp.Console(bctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			b.keep(m)
		}
	}()
	return b
}

// cspViolation matches how chromium words a refused script, style or request.
var cspViolation = regexp.MustCompile(`(?i)content security policy`)

// keep records the page's uncaught errors, console errors and policy violations: the
// dashboard must have none. Requests that failed are logged by chromium with the source
// "network"; the page expects some (a 401 before signing in, a 404 for a key not yet
// created), so they are not kept.
func (b *browser) keep(m chromedp.ConsoleMessage) {
	bad := m.IsException() || cspViolation.MatchString(m.Text) || m.Source == "security" ||
		(m.Type == chromedp.ConsoleError && m.Source != "network")
	if !bad {
		return
	}
	b.mu.Lock()
	b.problems = append(b.problems, fmt.Sprintf("%s %s: %s (%s:%d)", m.Type, m.Source, m.Text, m.URL, m.Line+1))
	b.mu.Unlock()
}

// checkConsole fails the test if the page reported an error or a policy violation.
func (b *browser) checkConsole() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range b.problems {
		b.t.Errorf("page reported: %s", p)
	}
	b.problems = nil
}

// run runs browser actions, failing the test (with a screenshot) on error.
func (b *browser) run(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.screenshot("failed")
		b.t.Fatalf("%s: %v", what, err)
	}
}

// screenshot saves the whole page as NN-name.png among the test's artifacts.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.shots++
	p := filepath.Join(b.artifacts, fmt.Sprintf("%02d-%s.png", b.shots, name))
	if err := os.WriteFile(p, buf, 0o644); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	b.t.Logf("screenshot %s", p)
}

// eval evaluates a JavaScript expression that yields a string.
func (b *browser) eval(expr string) (string, error) {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.Evaluate[string](expr))
}

// waitFor evaluates expr in the page until it yields "", which means the condition holds;
// any other string says what is still missing, and is reported with a screenshot when timeout
// passes.
func (b *browser) waitFor(what string, timeout time.Duration, expr string) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for {
		got, err := b.eval(expr)
		switch {
		case err != nil:
			last = err.Error()
		case got == "":
			return
		default:
			last = got
		}
		if time.Now().After(deadline) {
			b.screenshot("timeout")
			msg, _ := b.eval(`document.getElementById('msg').textContent`)
			b.t.Fatalf("%s: not within %v: %s (page message: %q)", what, timeout, last, msg)
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-b.ctx.Done():
			b.t.Fatalf("%s: %v", what, b.ctx.Err())
		}
	}
}

// text is the text of the element with id.
func (b *browser) text(id string) string {
	b.t.Helper()
	s, err := b.eval(fmt.Sprintf(`document.getElementById(%q).textContent`, id))
	if err != nil {
		b.t.Fatalf("read #%s: %v", id, err)
	}
	return s
}

// js quotes s as a JavaScript string literal.
func js(s string) string { return jsonJS(s) }

// jsonJS writes v as a JavaScript literal (JSON is one).
func jsonJS(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// msgContains is an expression that holds once the page's message line contains s.
func msgContains(s string) string {
	return fmt.Sprintf(`(() => { const m = document.getElementById('msg').textContent;
		return m.includes(%s) ? '' : 'message: ' + m; })()`, js(s))
}

// etcdctl runs Debian's etcdctl with the v2 API against endpoints.
func etcdctl(t *testing.T, endpoints string, args ...string) (stdout, stderr string, rc int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "etcdctl", append([]string{"--endpoints", endpoints}, args...)...)
	cmd.Env = append(os.Environ(), "ETCDCTL_API=2")
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return out.String(), errb.String(), ee.ExitCode()
	} else if err != nil {
		t.Fatalf("etcdctl %v: %v (scripts/deps.sh installs Debian's etcd-client)", args, err)
	}
	return out.String(), errb.String(), 0
}

// mustEtcdctl runs etcdctl and fails the test unless it exits 0.
func mustEtcdctl(t *testing.T, endpoints string, args ...string) string {
	t.Helper()
	out, errs, rc := etcdctl(t, endpoints, args...)
	if rc != 0 {
		t.Fatalf("etcdctl %v: exit %d: %s%s", args, rc, out, errs)
	}
	return out
}
