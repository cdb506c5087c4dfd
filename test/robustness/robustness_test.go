package robustness

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

// Environment that selects the long run and reproduces a run.
const (
	durationEnv = "ROBUSTNESS_DURATION" // e.g. 30m; default shortDuration
	seedEnv     = "ROBUSTNESS_SEED"
	evidenceEnv = "ROBUSTNESS_EVIDENCE_DIR" // where failing runs leave their files; default a temp dir that is kept
)

const shortDuration = 90 * time.Second

var safeBin, unsafeBin, dropBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "robustness-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// The built binaries have their own names, so that a `killall cairnd` or `pkill cairnd`
	// aimed at other processes on a shared machine does not end a run (a long run was lost so).
	safeBin = os.Getenv("CAIRND_BIN")
	if safeBin == "" {
		safeBin = filepath.Join(dir, "robustness-member")
		err = build(safeBin)
	}
	if err == nil {
		unsafeBin = filepath.Join(dir, "robustness-member-unsafe")
		err = build(unsafeBin, "-tags", "cairn_unsafe_reads")
	}
	if err == nil {
		dropBin = filepath.Join(dir, "robustness-member-drop")
		err = build(dropBin, "-tags", "cairn_drop_writes")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func build(out string, flags ...string) error {
	args := append(append([]string{"build"}, flags...), "-o", out, "./cmd/cairnd")
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go %v: %v\n%s", args, err, buf.String())
	}
	return nil
}

func seed(t *testing.T) int64 {
	if s := os.Getenv(seedEnv); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			t.Fatalf("%s: %v", seedEnv, err)
		}
		return v
	}
	return time.Now().UnixNano()
}

// runDir is kept after the test when it fails, so the evidence survives.
func runDir(t *testing.T) string {
	base := os.Getenv(evidenceEnv)
	if base == "" {
		base = os.TempDir()
	}
	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp(base, "cairn-"+t.Name()+"-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			os.RemoveAll(dir)
		}
	})
	return dir
}

func TestRobustness(t *testing.T) {
	d := shortDuration
	if s := os.Getenv(durationEnv); s != "" {
		v, err := time.ParseDuration(s)
		if err != nil {
			t.Fatalf("%s: %v", durationEnv, err)
		}
		d = v
	}
	s := seed(t)
	t.Logf("seed %d (rerun with %s=%d), faults for %v", s, seedEnv, s, d)
	began := time.Now()
	res, err := Run(Config{Bin: safeBin, Dir: runDir(t), Seed: s, Duration: d, Logf: t.Logf})
	if err != nil {
		if res != nil && res.Evidence != "" {
			t.Logf("history saved in %s", res.Evidence)
		}
		t.Fatalf("seed %d: %v", s, err)
	}
	t.Logf("%d operations, %d faults, checked in %v total: linearizability %s",
		res.Ops, len(res.Faults), time.Since(began).Round(time.Second), res.Linearizable)
	t.Logf("operations: %s", res.Summary)
	if len(res.Problems) > 0 {
		for _, p := range res.Problems {
			t.Error(p)
		}
		t.Fatalf("seed %d: %d problems; history, porcupine visualisation and watch streams in %s",
			s, len(res.Problems), res.Evidence)
	}
}

// TestCheckerCatchesUnsafeReads runs a cairnd built with -tags cairn_unsafe_reads, whose
// linearizable reads skip the read index, through a leader isolation: the checker must
// report a linearizability violation.
func TestCheckerCatchesUnsafeReads(t *testing.T) {
	s := seed(t)
	t.Logf("seed %d", s)
	dir := runDir(t)
	check, problems, evidence, err := StaleReads(Config{Bin: unsafeBin, Dir: dir, Seed: s, Logf: t.Logf}, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("porcupine: %s; index checks: %d problems; evidence in %s (kept only if this test fails)", check, len(problems), evidence)
	for i, p := range problems {
		if i < 3 {
			t.Logf("index: %s", p)
		}
	}
	if check != porcupine.Illegal {
		t.Fatalf("unsafe reads not caught: porcupine says %s (history in %s)", check, evidence)
	}
}

// TestAvailabilityCatchesDroppedWrites runs a cairnd built with -tags cairn_drop_writes, which
// fails nine writes in ten as timeouts, through a short run. Its history is linearizable (an
// unknown write may or may not have happened), so only the availability floors can fail it,
// and they must.
func TestAvailabilityCatchesDroppedWrites(t *testing.T) {
	s := seed(t)
	t.Logf("seed %d", s)
	res, err := Run(Config{Bin: dropBin, Dir: runDir(t), Seed: s, Duration: 15 * time.Second, Logf: t.Logf,
		Faults: []string{"kill-follower", "partition-leader", "pause-follower", "delay-peers"}})
	if err != nil {
		t.Fatalf("the run could not be carried out: %v", err)
	}
	t.Logf("linearizability %s; %d problems", res.Linearizable, len(res.Problems))
	caught := 0
	for _, p := range res.Problems {
		if strings.HasPrefix(p, "availability:") {
			caught++
			t.Logf("caught: %s", p)
		}
	}
	if caught == 0 {
		t.Fatalf("a cluster that drops nine writes in ten passed the availability floors:\n%s", res.Availability)
	}
}
