package procs

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cairn-io/cairn/test/ports"
)

// Process is one server process's life: its command line, its output appended to one log file
// across launches, and the signals that stop, kill, pause and resume it. Node builds on it; a
// suite that needs its own addresses or binary (test/robustness) uses it directly.
type Process struct {
	Name    string
	LogPath string
	// Bin is the executable; empty means Binary().
	Bin string
	// Args and Env are used by the next Launch; change them only while the process is down.
	Args []string
	Env  []string
	// TLS is the client configuration of the harness's own requests (health) to an
	// https:// client URL.
	TLS *tls.Config

	mu       sync.Mutex
	cmd      *exec.Cmd
	done     chan struct{}
	exit     *os.ProcessState
	paused   bool
	logFile  *os.File
	launches int
	// tlsTransport keeps connections to a TLS client URL between polls.
	tlsTransport *http.Transport
}

// launchMarker starts the line written to the log before each launch.
const launchMarker = "=== procs: launch"

// Running reports whether the process has been started and not yet exited (paused counts).
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return false
	}
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// ExitState is the state of the last process that exited, or nil.
func (p *Process) ExitState() *os.ProcessState {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.exit
}

// Launches counts the times the process was started, so a test can tell that something
// happened without a restart.
func (p *Process) Launches() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.launches
}

// Launch starts the process without waiting for it to become healthy (a cluster member cannot
// be healthy until a quorum is up).
func (p *Process) Launch() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil {
		select {
		case <-p.done:
		default:
			return fmt.Errorf("procs: %s is already running", p.Name)
		}
	}
	if p.logFile == nil {
		f, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		p.logFile = f
	}
	bin := p.Bin
	if bin == "" {
		bin = Binary()
	}
	p.launches++
	fmt.Fprintf(p.logFile, "%s %d of %s at %s: %s %s\n", launchMarker, p.launches, p.Name,
		time.Now().Format(time.RFC3339Nano), bin, strings.Join(p.Args, " "))
	cmd := exec.Command(bin, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Stdout, cmd.Stderr = p.logFile, p.logFile
	// Children die with the test binary even when it is killed by a timeout.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("procs: start %s: %w", p.Name, err)
	}
	done := make(chan struct{})
	p.cmd, p.done, p.exit, p.paused = cmd, done, nil, false
	go func() {
		_ = cmd.Wait()
		p.mu.Lock()
		p.exit = cmd.ProcessState
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// WaitHealthy polls GET clientURL/health until it answers {"health":"true"}, the process
// exits, or timeout passes. A process that exits because one of its ports was taken between
// the test choosing it and the process binding it is launched again (ports.Retry's rule).
func (p *Process) WaitHealthy(clientURL string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	retry := false
	return ports.Retry(timeout, func() error {
		if retry {
			// The previous attempt saw this process exit on a taken port: launch it again.
			if err := p.Launch(); err != nil {
				return err
			}
		}
		retry = true
		p.mu.Lock()
		done := p.done
		p.mu.Unlock()
		if done == nil {
			return ErrNotRunning
		}
		return p.waitHealthy(clientURL, done, deadline, timeout)
	})
}

func (p *Process) waitHealthy(clientURL string, done chan struct{}, deadline time.Time, timeout time.Duration) error {
	var last error
	for {
		ok, err := healthy(p.httpClient(), clientURL)
		if ok {
			return nil
		}
		last = err
		if time.Now().After(deadline) {
			return fmt.Errorf("procs: %s not healthy after %v: %v", p.Name, timeout, last)
		}
		select {
		case <-done:
			return fmt.Errorf("procs: %s exited while waiting for health: %v\n%s", p.Name, p.ExitState(), p.launchOutput(20))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// httpClient is the client of health and stats polls: http.DefaultTransport for a plain
// client URL, a transport of the process's own with TLS.
func (p *Process) httpClient() *http.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.TLS != nil && p.tlsTransport == nil {
		p.tlsTransport = &http.Transport{TLSClientConfig: p.TLS, IdleConnTimeout: 30 * time.Second}
	}
	c := &http.Client{Timeout: 2 * time.Second}
	if p.tlsTransport != nil {
		c.Transport = p.tlsTransport
	}
	return c
}

// launchOutput is the last lines the process wrote since its latest launch.
func (p *Process) launchOutput(lines int) string {
	tail := p.LogTail(lines)
	if i := strings.LastIndex(tail, launchMarker); i >= 0 {
		tail = tail[i:]
	}
	return tail
}

func healthy(c *http.Client, clientURL string) (bool, error) {
	resp, err := c.Get(clientURL + "/health")
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	var h struct {
		Health string `json:"health"`
	}
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, &h); err != nil {
		return false, fmt.Errorf("health %d %q: %v", resp.StatusCode, body, err)
	}
	if resp.StatusCode != http.StatusOK || h.Health != "true" {
		return false, fmt.Errorf("health %d %q", resp.StatusCode, body)
	}
	return true, nil
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Process) Kill() error {
	return p.signalAndWait(syscall.SIGKILL, DefaultStopTimeout)
}

// Stop sends SIGTERM (graceful shutdown) and waits for the process to exit. When it has not
// exited after DefaultStopTimeout it is killed and Stop reports the hang as an error.
func (p *Process) Stop() error {
	err := p.signalAndWait(syscall.SIGTERM, DefaultStopTimeout)
	if err != nil && !errors.Is(err, ErrNotRunning) {
		_ = p.signalAndWait(syscall.SIGKILL, DefaultStopTimeout)
	}
	return err
}

// Pause stops the process in its tracks (SIGSTOP): it keeps its sockets but answers nothing.
func (p *Process) Pause() error { return p.signalOnly(syscall.SIGSTOP) }

// Resume lets a paused process go on (SIGCONT).
func (p *Process) Resume() error { return p.signalOnly(syscall.SIGCONT) }

func (p *Process) signalOnly(sig syscall.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil {
		return ErrNotRunning
	}
	if err := p.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	p.paused = sig == syscall.SIGSTOP
	// kill returns before the signal has taken effect on every thread: a request sent right
	// after a SIGSTOP could still be answered by a thread that has not stopped yet. Wait until
	// the kernel reports every thread stopped (or none stopped, after SIGCONT).
	pid := p.cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for {
		stopped, running, err := threadStates(pid)
		if err != nil || stopped+running == 0 {
			return nil // it has exited: nothing left to stop or continue
		}
		if p.paused && running == 0 || !p.paused && stopped == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("procs: %s has %d stopped and %d other threads 5 s after %v", p.Name, stopped, running, sig)
		}
		time.Sleep(time.Millisecond)
	}
}

// threadStates counts the threads of pid that are stopped by a signal (state T in
// /proc/<pid>/task/*/stat) and those that are not; exited threads count in neither.
func threadStates(pid int) (stopped, other int, err error) {
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*/stat", pid))
	if err != nil {
		return 0, 0, fmt.Errorf("procs: %w", err)
	}
	for _, f := range stats {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited after the glob
		}
		s := string(b)
		fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
		switch {
		case len(fields) == 0:
			return 0, 0, fmt.Errorf("procs: malformed %s", f)
		case fields[0] == "T":
			stopped++
		case fields[0] != "Z" && fields[0] != "X":
			other++
		}
	}
	return stopped, other, nil
}

func (p *Process) signalAndWait(sig syscall.Signal, timeout time.Duration) error {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	if cmd != nil && p.paused {
		// A stopped process would hold SIGTERM until it is continued.
		_ = cmd.Process.Signal(syscall.SIGCONT)
		p.paused = false
	}
	p.mu.Unlock()
	if cmd == nil {
		return ErrNotRunning
	}
	select {
	case <-done:
		return ErrNotRunning
	default:
	}
	if err := cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return err
	}
	select {
	case <-done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("procs: %s did not exit within %v of %v", p.Name, timeout, sig)
	}
}

// LogTail returns the last lines of the process's output across all launches.
func (p *Process) LogTail(lines int) string {
	f, err := os.Open(p.LogPath)
	if err != nil {
		return fmt.Sprintf("(no log: %v)", err)
	}
	defer f.Close()
	var ring []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		ring = append(ring, sc.Text())
		if len(ring) > lines {
			ring = ring[1:]
		}
	}
	return strings.Join(ring, "\n")
}

// Close kills the process if it runs and closes its log.
func (p *Process) Close() {
	if p.Running() {
		_ = p.Kill()
	}
	p.mu.Lock()
	if p.tlsTransport != nil {
		p.tlsTransport.CloseIdleConnections()
	}
	if p.logFile != nil {
		p.logFile.Close()
		p.logFile = nil
	}
	p.mu.Unlock()
}
