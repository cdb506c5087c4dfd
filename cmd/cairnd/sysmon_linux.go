//go:build linux

package main

import (
	"os"
	"strings"
	"syscall"
)

// sysmonSetting keeps the Go runtime's monitor thread (sysmon) out of its deep sleep.
//
// sysmon deep-sleeps whenever every P of the process is idle, and the first system call after
// that wakes it and sets its period back to 20 µs, where it stays for at least 50 rounds and for
// as long as it keeps finding a P in a system call it can take back. A member idles between raft
// batches hundreds of times a second, so sysmon spends its life at 20 µs: thousands of wake-ups
// a second, each taking back Ps from short writes and fsyncs and handing them to other threads.
// On a 2-vCPU machine that was a quarter of the members' CPU per write and half their write
// latency (docs/performance.md, "sysmon"). A schedtrace period makes the runtime skip the deep
// sleep, and nothing else: sysmon then backs off to 10 ms between rounds as it does in any busy
// process. The period is the largest the runtime takes (about 24.8 days), so the trace line it
// exists for is written once every 24.8 days, and at start on a host up longer than that.
// golang/go#18236 is the runtime's side of it.
const sysmonSetting = "schedtrace=2147483647"

// withSysmonSetting re-executes cairnd (same PID, arguments and environment) with sysmonSetting
// added to GODEBUG, which the runtime reads only at start. It does nothing when GODEBUG already
// sets schedtrace: an operator's own value, 0 included, wins, and the re-executed process stops
// here. It returns only when it did not re-execute; a failed exec leaves cairnd running as it
// is, without the setting.
func withSysmonSetting() {
	godebug, set := os.LookupEnv("GODEBUG")
	if hasGODEBUG(godebug, "schedtrace") {
		return
	}
	if set && godebug != "" {
		godebug += ","
	}
	env := make([]string, 0, len(os.Environ())+1)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GODEBUG=") {
			env = append(env, kv)
		}
	}
	env = append(env, "GODEBUG="+godebug+sysmonSetting)
	// /proc/self/exe is the running image even when its file was replaced or removed since (a
	// package upgrade under a starting cairnd), where a path would start the new build.
	_ = syscall.Exec("/proc/self/exe", os.Args, env)
}

// hasGODEBUG reports whether the GODEBUG value godebug sets key.
func hasGODEBUG(godebug, key string) bool {
	for _, kv := range strings.Split(godebug, ",") {
		if k, _, _ := strings.Cut(strings.TrimSpace(kv), "="); k == key {
			return true
		}
	}
	return false
}
