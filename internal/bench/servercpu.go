package bench

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The servers' CPU per operation is the figure that a faster generator
// cannot move: the user+system time every member process used during the
// measured window, read from /proc, divided by the operations. The
// generator's own CPU is reported apart (client_cpu_us_per_op).

// userHZ is the unit of utime and stime in /proc/<pid>/stat: Linux reports
// them in USER_HZ, fixed at 100 on every architecture it runs on.
const userHZ = 100

// ErrNoServerPIDs: no process listening on the endpoints' ports was found
// (remote endpoints, or /proc not readable).
var ErrNoServerPIDs = errors.New("no local process listens on the endpoints' ports")

// ProcessCPU is the user+system CPU time pid has used so far, all its
// threads included.
func ProcessCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(b))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a /proc/<pid>/stat
// line. The command name (field 2) is in parentheses and may hold spaces or
// parentheses itself, so fields are counted from the last ')'.
func parseStatCPU(stat string) (time.Duration, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, fmt.Errorf("bench: malformed /proc stat line")
	}
	f := strings.Fields(stat[i+1:])
	// f[0] is field 3 (state); utime is field 14, stime field 15.
	if len(f) < 13 {
		return 0, fmt.Errorf("bench: short /proc stat line (%d fields after the name)", len(f))
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("bench: /proc stat times: %w", err)
	}
	return time.Duration(u+s) * time.Second / userHZ, nil
}

// ListenerPIDs finds the processes listening on the TCP ports of the
// endpoints (URLs or host:port), through /proc/net/tcp{,6} and the
// processes' open file descriptors. Finding another user's processes takes
// the rights to read their /proc/<pid>/fd.
func ListenerPIDs(endpoints []string) ([]int, error) {
	ports := map[uint16]bool{}
	for _, ep := range endpoints {
		hostport := ep
		if u, err := url.Parse(ep); err == nil && u.Host != "" {
			hostport = u.Host
		}
		_, p, err := net.SplitHostPort(hostport)
		if err != nil {
			return nil, fmt.Errorf("bench: endpoint %q: %w", ep, err)
		}
		n, err := strconv.ParseUint(p, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("bench: endpoint %q: port %q", ep, p)
		}
		ports[uint16(n)] = true
	}
	inodes := map[string]bool{}
	for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		if err := listeningInodes(f, ports, inodes); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	if len(inodes) == 0 {
		return nil, ErrNoServerPIDs
	}
	procs, err := filepath.Glob("/proc/[0-9]*/fd/*")
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, fd := range procs {
		link, err := os.Readlink(fd)
		if err != nil || !strings.HasPrefix(link, "socket:[") {
			continue
		}
		if !inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] {
			continue
		}
		pid, err := strconv.Atoi(strings.Split(fd, "/")[2])
		if err == nil && !slices.Contains(pids, pid) {
			pids = append(pids, pid)
		}
	}
	if len(pids) == 0 {
		return nil, ErrNoServerPIDs
	}
	slices.Sort(pids)
	return pids, nil
}

// Switches counts how often the threads of a process left the CPU: voluntarily
// (blocking in a system call, a futex, epoll, a sleep) and involuntarily (preempted).
// A hand-off between goroutines that wakes a parked thread costs a pair of them, so
// they show how much of a write's CPU goes to waking threads rather than to work.
type Switches struct {
	Voluntary, Involuntary uint64
}

// Total is both kinds.
func (s Switches) Total() uint64 { return s.Voluntary + s.Involuntary }

// ProcessSwitches sums the context switches of every thread of pid so far, from
// /proc/<pid>/task/*/status (the process's own status counts its main thread only).
// A thread that exits between two readings takes its count with it; Go servers keep
// their threads, so the error is small.
func ProcessSwitches(pid int) (Switches, error) {
	tasks, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/[0-9]*/status", pid))
	if err != nil {
		return Switches{}, err
	}
	if len(tasks) == 0 {
		return Switches{}, fmt.Errorf("bench: no threads of pid %d in /proc: %w", pid, os.ErrNotExist)
	}
	var sum Switches
	read := 0
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread exited after the glob
		}
		s, err := parseStatusSwitches(string(b))
		if err != nil {
			return Switches{}, fmt.Errorf("bench: %s: %w", f, err)
		}
		sum.Voluntary += s.Voluntary
		sum.Involuntary += s.Involuntary
		read++
	}
	if read == 0 {
		return Switches{}, fmt.Errorf("bench: threads of pid %d: %w", pid, os.ErrNotExist)
	}
	return sum, nil
}

// parseStatusSwitches reads voluntary_ctxt_switches and nonvoluntary_ctxt_switches of
// a /proc status file.
func parseStatusSwitches(status string) (Switches, error) {
	var s Switches
	found := 0
	for _, line := range strings.Split(status, "\n") {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		var dst *uint64
		switch name {
		case "voluntary_ctxt_switches":
			dst = &s.Voluntary
		case "nonvoluntary_ctxt_switches":
			dst = &s.Involuntary
		default:
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSpace(val), 10, 64)
		if err != nil {
			return Switches{}, fmt.Errorf("%s: %w", name, err)
		}
		*dst = n
		found++
	}
	if found != 2 {
		return Switches{}, errors.New("no context switch counts")
	}
	return s, nil
}

// listeningInodes adds the socket inodes of the listeners (state 0A) on
// ports found in one /proc/net/tcp-format file.
func listeningInodes(file string, ports map[uint16]bool, inodes map[string]bool) error {
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan() // header
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 10 || fields[3] != "0A" {
			continue
		}
		local := fields[1] // hex address:hex port
		j := strings.LastIndexByte(local, ':')
		port, err := strconv.ParseUint(local[j+1:], 16, 16)
		if err != nil || !ports[uint16(port)] {
			continue
		}
		inodes[fields[9]] = true
	}
	return sc.Err()
}

// serverMeter samples the servers' CPU and context switches when the measured
// window opens and when the run ends.
type serverMeter struct {
	pids  []int
	timer *time.Timer

	mu    sync.Mutex
	start serverSample
	at    time.Time
	err   error
}

type serverSample struct {
	cpu      time.Duration
	switches Switches
}

// startServerMeter takes the first sample at the window's opening.
func startServerMeter(pids []int, windowStart time.Time) *serverMeter {
	m := &serverMeter{pids: pids}
	if len(pids) == 0 {
		return m
	}
	m.timer = time.AfterFunc(time.Until(windowStart), func() {
		sample, err := m.sample()
		m.mu.Lock()
		m.start, m.at, m.err = sample, time.Now(), err
		m.mu.Unlock()
	})
	return m
}

func (m *serverMeter) sample() (serverSample, error) {
	var sum serverSample
	for _, pid := range m.pids {
		d, err := ProcessCPU(pid)
		if err != nil {
			return serverSample{}, fmt.Errorf("server pid %d: %w", pid, err)
		}
		sw, err := ProcessSwitches(pid)
		if err != nil {
			return serverSample{}, fmt.Errorf("server pid %d: %w", pid, err)
		}
		sum.cpu += d
		sum.switches.Voluntary += sw.Voluntary
		sum.switches.Involuntary += sw.Involuntary
	}
	return sum, nil
}

// finish fills the result's server figures once res.Ops is known.
func (m *serverMeter) finish(res *Result) error {
	if len(m.pids) == 0 {
		return nil
	}
	m.timer.Stop()
	end, err := m.sample()
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		err = m.err
	}
	if err != nil {
		return err
	}
	if m.at.IsZero() {
		return nil // the run ended before its window opened
	}
	res.ServerPIDs = m.pids
	used := end.cpu - m.start.cpu
	if wall := now.Sub(m.at); wall > 0 {
		res.ServerCores = used.Seconds() / wall.Seconds()
	}
	if res.Ops > 0 {
		res.ServerCPUPerOp = float64(used.Microseconds()) / float64(res.Ops)
		// A thread that exited in between can make a sum go down: count nothing then.
		if end.switches.Total() >= m.start.switches.Total() {
			res.ServerSwitchesPerOp = float64(end.switches.Total()-m.start.switches.Total()) / float64(res.Ops)
		}
		if end.switches.Involuntary >= m.start.switches.Involuntary {
			res.ServerPreemptionsPerOp = float64(end.switches.Involuntary-m.start.switches.Involuntary) / float64(res.Ops)
		}
	}
	return nil
}
