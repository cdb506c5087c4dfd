package bench

import (
	"math"
	"testing"
	"time"
)

func near(got, want float64) bool { return math.Abs(got-want) <= want*0.002+0.001 }

func TestSummaryPercentiles(t *testing.T) {
	r := NewRecorder()
	for i := 1; i <= 1000; i++ {
		r.Record(time.Duration(i) * time.Millisecond)
	}
	s := r.Summary()
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"p50", s.P50, 500}, {"p90", s.P90, 900}, {"p99", s.P99, 990}, {"p99.9", s.P999, 999}, {"max", s.Max, 1000}, {"mean", s.Mean, 500.5}} {
		if !near(c.got, c.want) {
			t.Errorf("%s = %v ms, want %v", c.name, c.got, c.want)
		}
	}
	if s.Count != 1000 {
		t.Errorf("count = %d", s.Count)
	}
}

func TestRecordClampsOutOfRange(t *testing.T) {
	r := NewRecorder()
	r.Record(0)
	r.Record(2 * time.Hour)
	s := r.Summary()
	if s.Count != 2 {
		t.Fatalf("count = %d: an out-of-range latency was dropped", s.Count)
	}
	if !near(s.Max, 60000) {
		t.Errorf("max = %v ms, want the 60 s ceiling", s.Max)
	}
	if s.P50 != 0.001 {
		t.Errorf("p50 = %v ms, want the 1 µs floor", s.P50)
	}
}

func TestMergeAndEmpty(t *testing.T) {
	a, b := NewRecorder(), NewRecorder()
	if (a.Summary() != LatencySummary{}) {
		t.Fatal("empty recorder has a non-zero summary")
	}
	a.Record(time.Millisecond)
	b.Record(3 * time.Millisecond)
	a.Merge(b)
	if s := a.Summary(); s.Count != 2 || !near(s.Max, 3) {
		t.Fatalf("merged summary %+v", s)
	}
	a.Reset()
	if a.Count() != 0 {
		t.Fatal("reset kept values")
	}
}
