package bench

import (
	"time"

	hdr "github.com/HdrHistogram/hdrhistogram-go"
)

// Latencies are recorded in microseconds from 1µs to one minute with three
// significant digits: 0.1% resolution at every magnitude.
const (
	histMin    = 1
	histMax    = int64(time.Minute / time.Microsecond)
	histDigits = 3
)

// Recorder collects one worker's latencies. It is not safe for concurrent use:
// each worker owns one and they are merged at the end, so recording takes no lock.
type Recorder struct {
	h *hdr.Histogram
}

// NewRecorder returns an empty recorder.
func NewRecorder() *Recorder { return &Recorder{h: hdr.New(histMin, histMax, histDigits)} }

// Record adds one latency. Values beyond the range are clamped to it rather than
// dropped: a dropped outlier would flatter the tail.
func (r *Recorder) Record(d time.Duration) {
	us := int64(d / time.Microsecond)
	if us < histMin {
		us = histMin
	}
	if us > histMax {
		us = histMax
	}
	_ = r.h.RecordValue(us) // cannot fail: us is within the histogram's range
}

// Merge adds other's values into r.
func (r *Recorder) Merge(other *Recorder) { r.h.Merge(other.h) }

// Reset forgets every value.
func (r *Recorder) Reset() { r.h.Reset() }

// Count is the number of recorded values.
func (r *Recorder) Count() int64 { return r.h.TotalCount() }

// LatencySummary is the latency part of a result, in milliseconds.
type LatencySummary struct {
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P90   float64 `json:"p90_ms"`
	P99   float64 `json:"p99_ms"`
	P999  float64 `json:"p99_9_ms"`
	Max   float64 `json:"max_ms"`
}

// Summary computes the percentiles reported for a run.
func (r *Recorder) Summary() LatencySummary {
	if r.h.TotalCount() == 0 {
		return LatencySummary{}
	}
	q := r.h.ValueAtPercentilesSlice([]float64{50, 90, 99, 99.9})
	ms := func(us int64) float64 { return float64(us) / 1000 }
	return LatencySummary{
		Count: r.h.TotalCount(),
		Mean:  r.h.Mean() / 1000,
		P50:   ms(q[0]),
		P90:   ms(q[1]),
		P99:   ms(q[2]),
		P999:  ms(q[3]),
		Max:   ms(r.h.Max()),
	}
}
