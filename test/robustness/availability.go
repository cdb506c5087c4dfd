package robustness

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/cairn-io/cairn/test/robustness/model"
)

// A history of timeouts is trivially linearizable: the checks of a run prove nothing unless
// the load got through. Availability measures that from the same history and fails the run
// when the cluster did worse than a healthy three-member raft must, even on a loaded 2-core
// machine. The floors come from measured runs (docs/robustness.md has the figures).
const (
	// afterHeal is the window after a fault heals in which the cluster must be writing again.
	afterHeal = 5 * time.Second
	// maxHealStall bounds the time from a fault's heal to the first acknowledged write that
	// began after it: a few election timeouts (1 s), with room for a loaded machine.
	maxHealStall = 4 * electionTimeout
	// minWindowWrites is the fewest acknowledged writes a fault's window plus the 5 s after its
	// heal may hold: every fault leaves a quorum able to elect and write within it.
	minWindowWrites = 10
	// minOpsPerSecond and minWritesPerSecond are the fewest acknowledged operations, and
	// writes, per second over the whole load.
	minOpsPerSecond    = 15.0
	minWritesPerSecond = 8.0
)

// faultWindow is one fault's time on the recorder's clock: injected at Start, healed at Heal.
type faultWindow struct {
	Fault       string
	Start, Heal int64
}

// WindowAvailability is what got through during one fault and the 5 s after its heal.
type WindowAvailability struct {
	Fault            string
	Duration         time.Duration // injection to heal
	OpsPerSecond     float64       // acknowledged operations, injection to heal
	Writes           int           // acknowledged writes, injection to heal + afterHeal
	AfterHealOpsRate float64       // acknowledged operations per second in the afterHeal window
	HealStall        time.Duration // heal to the first acknowledged write that began after it, or to the next fault
}

// Availability sums a run's history up.
type Availability struct {
	Load          time.Duration
	Acked, Writes int // acknowledged operations, of which writes
	OpsPerSecond  float64
	WritesPerSec  float64
	LongestGap    time.Duration // the longest stretch without an acknowledged write
	GapEnds       time.Duration // when that stretch ended, from the start of the load
	Windows       []WindowAvailability
}

// acked reports whether the cluster answered op: a definite outcome, success or refusal.
func acked(op model.Op) bool { return !op.Output.Unknown && op.Return != model.Pending }

// measureAvailability computes availability over [from, to) on the recorder's clock.
func measureAvailability(ops []model.Op, windows []faultWindow, from, to int64) Availability {
	a := Availability{Load: time.Duration(to - from)}
	var writeEnds []int64
	type span struct{ call, ret int64 }
	var writes []span
	for _, op := range ops {
		if !acked(op) || op.Return < from || op.Return > to {
			continue
		}
		a.Acked++
		if op.Input.IsWrite() {
			a.Writes++
			writeEnds = append(writeEnds, op.Return)
			writes = append(writes, span{op.Call, op.Return})
		}
	}
	if a.Load > 0 {
		a.OpsPerSecond = float64(a.Acked) / a.Load.Seconds()
		a.WritesPerSec = float64(a.Writes) / a.Load.Seconds()
	}
	slices.Sort(writeEnds)
	prev := from
	for _, t := range append(writeEnds, to) {
		if d := time.Duration(t - prev); d > a.LongestGap {
			a.LongestGap, a.GapEnds = d, time.Duration(t-from)
		}
		prev = t
	}
	count := func(lo, hi int64, writesOnly bool) int {
		n := 0
		for _, op := range ops {
			if acked(op) && op.Return >= lo && op.Return < hi && (!writesOnly || op.Input.IsWrite()) {
				n++
			}
		}
		return n
	}
	for i, w := range windows {
		end := w.Heal + int64(afterHeal)
		wa := WindowAvailability{Fault: w.Fault, Duration: time.Duration(w.Heal - w.Start),
			Writes:           count(w.Start, end, true),
			AfterHealOpsRate: float64(count(w.Heal, end, false)) / afterHeal.Seconds()}
		if wa.Duration > 0 {
			wa.OpsPerSecond = float64(count(w.Start, w.Heal, false)) / wa.Duration.Seconds()
		}
		// A write that began before the heal proves nothing about the healed cluster. A stall
		// that runs into the next fault is that fault's from its injection on (its own window
		// and heal are judged), so this one is measured at most up to it.
		until := to
		if i+1 < len(windows) && windows[i+1].Start >= w.Heal {
			until = windows[i+1].Start
		}
		wa.HealStall = time.Duration(until - w.Heal)
		for _, s := range writes {
			if s.call >= w.Heal && time.Duration(s.ret-w.Heal) < wa.HealStall {
				wa.HealStall = time.Duration(s.ret - w.Heal)
			}
		}
		a.Windows = append(a.Windows, wa)
	}
	return a
}

// String is the table a run prints.
func (a Availability) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "availability: %d acknowledged operations (%d writes) in %v: %.1f ops/s, %.1f writes/s; longest stretch without an acknowledged write %v, ending at %v\n",
		a.Acked, a.Writes, a.Load.Round(time.Millisecond), a.OpsPerSecond, a.WritesPerSec, a.LongestGap.Round(time.Millisecond), a.GapEnds.Round(time.Millisecond))
	fmt.Fprintf(&b, "  %-20s %9s %9s %8s %12s %10s\n", "fault", "window", "ops/s", "writes", "5s-after/s", "heal-stall")
	for _, w := range a.Windows {
		fmt.Fprintf(&b, "  %-20s %9v %9.1f %8d %12.1f %10v\n", w.Fault, w.Duration.Round(10*time.Millisecond),
			w.OpsPerSecond, w.Writes, w.AfterHealOpsRate, w.HealStall.Round(time.Millisecond))
	}
	return b.String()
}

// Problems lists every floor the run fell below.
func (a Availability) Problems() []string {
	var out []string
	if a.OpsPerSecond < minOpsPerSecond {
		out = append(out, fmt.Sprintf("availability: %.1f acknowledged ops/s over the run, floor %.0f", a.OpsPerSecond, minOpsPerSecond))
	}
	if a.WritesPerSec < minWritesPerSecond {
		out = append(out, fmt.Sprintf("availability: %.1f acknowledged writes/s over the run, floor %.0f", a.WritesPerSec, minWritesPerSecond))
	}
	for _, w := range a.Windows {
		if w.Writes < minWindowWrites {
			out = append(out, fmt.Sprintf("availability: %s: %d acknowledged writes in its window and the %v after its heal, floor %d",
				w.Fault, w.Writes, afterHeal, minWindowWrites))
		}
		if w.HealStall > maxHealStall {
			out = append(out, fmt.Sprintf("availability: %s: no acknowledged write for %v after its heal, bound %v",
				w.Fault, w.HealStall.Round(time.Millisecond), maxHealStall))
		}
	}
	return out
}
