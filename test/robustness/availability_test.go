package robustness

import (
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/robustness/model"
)

func at(d time.Duration) int64 { return int64(d) }

// steady is a history of one acknowledged write every period over [from, to), except inside
// the gaps given as pairs.
func steady(from, to, period time.Duration, gaps ...time.Duration) []model.Op {
	var ops []model.Op
next:
	for t := from; t < to; t += period {
		for i := 0; i+1 < len(gaps); i += 2 {
			if t >= gaps[i] && t < gaps[i+1] {
				continue next
			}
		}
		ops = append(ops, model.Op{Input: model.Input{Kind: model.Put, Key: "/k", Value: "v"},
			Output: model.Output{Mod: 1}, Call: at(t - period/2), Return: at(t)})
	}
	return ops
}

func TestAvailabilityOfAHealthyHistory(t *testing.T) {
	ops := steady(0, 60*time.Second, 20*time.Millisecond, 10*time.Second, 11*time.Second)
	// Unknown outcomes and reads that failed are not acknowledged.
	ops = append(ops, model.Op{Input: model.Input{Kind: model.Put}, Output: model.Output{Unknown: true}, Call: at(time.Second), Return: model.Pending})
	a := measureAvailability(ops, []faultWindow{{Fault: "kill-leader", Start: at(9 * time.Second), Heal: at(12 * time.Second)}}, 0, at(60*time.Second))
	if a.Writes != len(ops)-1 || a.LongestGap < time.Second || a.LongestGap > 1100*time.Millisecond {
		t.Fatalf("writes %d, longest gap %v", a.Writes, a.LongestGap)
	}
	w := a.Windows[0]
	if w.HealStall > 50*time.Millisecond || w.Writes < 300 {
		t.Fatalf("window %+v", w)
	}
	if p := a.Problems(); len(p) != 0 {
		t.Fatalf("a healthy history fails the floors: %v\n%s", p, a)
	}
}

func TestAvailabilityFloorsFail(t *testing.T) {
	for name, c := range map[string]struct {
		ops  []model.Op
		want string
	}{
		// Writes stop for 8 s after the heal at 12 s.
		"stall after heal": {steady(0, 60*time.Second, 20*time.Millisecond, 12*time.Second, 20*time.Second), "after its heal"},
		// One write in two seconds gets through.
		"thin load": {steady(0, 60*time.Second, 2*time.Second), "writes/s over the run"},
		// Nothing gets through from the fault's start to 5 s after its heal.
		"dead window": {steady(0, 60*time.Second, 20*time.Millisecond, 9*time.Second, 17*time.Second), "acknowledged writes in its window"},
	} {
		a := measureAvailability(c.ops, []faultWindow{{Fault: "pause-leader", Start: at(9 * time.Second), Heal: at(12 * time.Second)}}, 0, at(60*time.Second))
		found := false
		for _, p := range a.Problems() {
			found = found || strings.Contains(p, c.want)
		}
		if !found {
			t.Errorf("%s: no problem mentioning %q in %v\n%s", name, c.want, a.Problems(), a)
		}
	}
}

// A stall after one fault's heal that runs into the next fault, injected at once (a leader
// partitioned right after a delay heals), is the next fault's from its injection: the first
// is judged up to it, the second by its own window and heal.
func TestHealStallEndsAtTheNextFault(t *testing.T) {
	// No write gets through from 12 s to 18 s; the first fault heals at 12 s and the second is
	// injected at once and heals at 15 s.
	ops := steady(0, 60*time.Second, 20*time.Millisecond, 12*time.Second, 18*time.Second)
	windows := []faultWindow{{Fault: "delay-peers", Start: at(9 * time.Second), Heal: at(12 * time.Second)},
		{Fault: "partition-leader", Start: at(12 * time.Second), Heal: at(15 * time.Second)}}
	a := measureAvailability(ops, windows, 0, at(60*time.Second))
	if got := a.Windows[0].HealStall; got != 0 {
		t.Fatalf("the first fault's stall %v, want 0: the next fault began at its heal", got)
	}
	if got := a.Windows[1].HealStall; got < 3*time.Second || got > 3100*time.Millisecond {
		t.Fatalf("the second fault's stall %v, want its own 3 s", got)
	}
	// Still a problem when the second fault's own heal stalls beyond the bound.
	ops = steady(0, 60*time.Second, 20*time.Millisecond, 12*time.Second, 20*time.Second)
	a = measureAvailability(ops, windows, 0, at(60*time.Second))
	found := false
	for _, p := range a.Problems() {
		found = found || strings.Contains(p, "partition-leader: no acknowledged write")
	}
	if !found || a.Windows[0].HealStall != 0 {
		t.Fatalf("a 5 s stall after the second heal: problems %v, first stall %v", a.Problems(), a.Windows[0].HealStall)
	}
}
