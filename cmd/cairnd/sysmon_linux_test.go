//go:build linux

package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestHasGODEBUG(t *testing.T) {
	for _, tc := range []struct {
		godebug string
		want    bool
	}{
		{"", false},
		{"madvdontneed=1", false},
		{"schedtrace=0", true},
		{"madvdontneed=1, schedtrace=1000", true},
		{"scheddetail=1", false},
		{"schedtrace", true},
	} {
		if got := hasGODEBUG(tc.godebug, "schedtrace"); got != tc.want {
			t.Errorf("hasGODEBUG(%q) = %v, want %v", tc.godebug, got, tc.want)
		}
	}
}

// sysmonChildEnv makes the test binary, run as a child, act as cairnd's first moments: report its
// PID and GODEBUG, call withSysmonSetting, report them again.
const sysmonChildEnv = "CAIRND_TEST_SYSMON_CHILD"

func TestSysmonChild(t *testing.T) {
	if os.Getenv(sysmonChildEnv) == "" {
		t.Skip("run by TestWithSysmonSetting as a child process")
	}
	fmt.Printf("before %d %q\n", os.Getpid(), os.Getenv("GODEBUG"))
	withSysmonSetting()
	fmt.Printf("after %d %q\n", os.Getpid(), os.Getenv("GODEBUG"))
}

// The setting reaches the runtime only through a new image of the process: the child re-executes
// itself once, keeps its PID and the operator's other GODEBUG settings, and an operator's own
// schedtrace (0: the runtime's default behaviour) is left alone without a re-execution.
func TestWithSysmonSetting(t *testing.T) {
	for _, tc := range []struct {
		name, godebug string
		unset         bool
		want          string
		execs         bool
	}{
		{name: "unset", unset: true, want: sysmonSetting, execs: true},
		{name: "empty", want: sysmonSetting, execs: true},
		{name: "others kept", godebug: "madvdontneed=1", want: "madvdontneed=1," + sysmonSetting, execs: true},
		{name: "operator's value", godebug: "schedtrace=0", want: "schedtrace=0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSysmonChild$", "-test.v")
			for _, kv := range os.Environ() {
				if !strings.HasPrefix(kv, "GODEBUG=") {
					cmd.Env = append(cmd.Env, kv)
				}
			}
			cmd.Env = append(cmd.Env, sysmonChildEnv+"=1")
			if !tc.unset {
				cmd.Env = append(cmd.Env, "GODEBUG="+tc.godebug)
			}
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("child: %v\n%s", err, out)
			}
			var befores, afters []string
			for _, line := range strings.Split(string(out), "\n") {
				switch {
				case strings.HasPrefix(line, "before "):
					befores = append(befores, line)
				case strings.HasPrefix(line, "after "):
					afters = append(afters, line)
				}
			}
			wantBefores := 1
			if tc.execs {
				wantBefores = 2 // the first image, then the re-executed one
			}
			if len(befores) != wantBefores || len(afters) != 1 {
				t.Fatalf("child printed %d before and %d after lines, want %d and 1:\n%s", len(befores), len(afters), wantBefores, out)
			}
			var pid0, pid1 int
			var godebug string
			if _, err := fmt.Sscanf(befores[0], "before %d", &pid0); err != nil {
				t.Fatal(err)
			}
			if _, err := fmt.Sscanf(afters[0], "after %d %q", &pid1, &godebug); err != nil {
				t.Fatal(err)
			}
			if pid1 != pid0 || godebug != tc.want {
				t.Fatalf("after: pid %d GODEBUG %q; want pid %d GODEBUG %q\n%s", pid1, godebug, pid0, tc.want, out)
			}
		})
	}
}
