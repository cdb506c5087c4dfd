package bench

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable prints a result as the human-readable table of the CLI.
func WriteTable(w io.Writer, r *Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "workload\t%s\n", describe(r))
	fmt.Fprintf(tw, "target\t%s %s\n", r.Target, strings.Join(r.Endpoints, ","))
	fmt.Fprintf(tw, "clients/conns\t%d/%d\n", r.Clients, r.Conns)
	if r.HTTP != "" {
		fmt.Fprintf(tw, "http client\t%s, %d procs\n", r.HTTP, r.Procs)
	}
	fmt.Fprintf(tw, "keys\t%d of %d bytes, values %d bytes\n", r.KeyCount, r.KeySize, r.ValueSize)
	fmt.Fprintf(tw, "elapsed\t%.2fs\n", r.Elapsed)
	unit := "ops"
	if r.Workload == Watch {
		unit = "events delivered"
		fmt.Fprintf(tw, "writes\t%d (%.1f/s)\n", r.Writes, float64(r.Writes)/max(r.Elapsed, 1e-9))
	}
	fmt.Fprintf(tw, "%s\t%d\n", unit, r.Ops)
	fmt.Fprintf(tw, "throughput\t%.1f/s\n", r.OpsPerSec)
	l := r.Latency
	fmt.Fprintf(tw, "latency ms\tp50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  max %.3f  mean %.3f\n",
		l.P50, l.P90, l.P99, l.P999, l.Max, l.Mean)
	fmt.Fprintf(tw, "generator cpu\t%.2f cores, %.1f µs/op\n", r.ClientCPU, r.ClientCPUPerOp)
	if len(r.ServerPIDs) > 0 {
		fmt.Fprintf(tw, "servers' cpu\t%.2f cores, %.1f µs/op (pids %s)\n", r.ServerCores, r.ServerCPUPerOp, joinInts(r.ServerPIDs))
		fmt.Fprintf(tw, "servers' switches\t%.2f/op, of which %.2f preemptions\n", r.ServerSwitchesPerOp, r.ServerPreemptionsPerOp)
	}
	fmt.Fprintf(tw, "errors\t%d\n", r.ErrTotal)
	for _, k := range slices.Sorted(maps.Keys(r.Errors)) {
		fmt.Fprintf(tw, "  %s\t%d\n", k, r.Errors[k])
	}
	return tw.Flush()
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = fmt.Sprint(n)
	}
	return strings.Join(s, ",")
}

func describe(r *Result) string {
	switch r.Workload {
	case Mixed:
		return fmt.Sprintf("mixed (%.0f%% reads)", r.ReadRatio*100)
	case Watch:
		return fmt.Sprintf("watch (%d watchers, delivery latency)", r.Watchers)
	}
	return string(r.Workload)
}

// Record is one line of a comparison file: a run's Result, or a single named
// figure (Metric/Value/Unit) that the comparison script measured itself, such
// as a server's RSS.
type Record struct {
	Result
	Metric string  `json:"metric,omitempty"`
	Value  float64 `json:"value,omitempty"`
	Unit   string  `json:"unit,omitempty"`
}

// ReadRecords parses JSON lines.
func ReadRecords(r io.Reader) ([]Record, error) {
	var out []Record
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var rec Record
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, rec)
	}
	return out, sc.Err()
}

// figure is one row of the comparison: a value per label, averaged over repeats.
type figure struct {
	sum map[string]float64
	n   map[string]int
}

// WriteComparison prints, for every figure found in recs, the mean value of
// label a and of label b and the ratio b/a. Runs of the same workload and
// client count are repeats (the A B A B alternation) and are averaged.
func WriteComparison(w io.Writer, recs []Record, a, b string) error {
	var order []string
	figs := map[string]*figure{}
	add := func(name, label string, v float64) {
		f, ok := figs[name]
		if !ok {
			f = &figure{sum: map[string]float64{}, n: map[string]int{}}
			figs[name] = f
			order = append(order, name)
		}
		f.sum[label] += v
		f.n[label]++
	}
	for _, r := range recs {
		if r.Metric != "" {
			add(fmt.Sprintf("%s (%s)", r.Metric, r.Unit), r.Label, r.Value)
			continue
		}
		base := fmt.Sprintf("%s c=%d", describeShort(&r.Result), r.Clients)
		add(base+" ops/s", r.Label, r.OpsPerSec)
		if r.Workload == Watch && r.Elapsed > 0 {
			// Deliveries are writes times watchers: a writer slowed by the
			// server lowers ops/s without any watcher losing an event.
			add(base+" writes/s", r.Label, float64(r.Writes)/r.Elapsed)
		}
		add(base+" p50 ms", r.Label, r.Latency.P50)
		add(base+" p99 ms", r.Label, r.Latency.P99)
		add(base+" p99.9 ms", r.Label, r.Latency.P999)
		add(base+" errors", r.Label, float64(r.ErrTotal))
		add(base+" generator cores", r.Label, r.ClientCPU)
		if r.ClientCPUPerOp > 0 {
			add(base+" generator cpu us/op", r.Label, r.ClientCPUPerOp)
		}
		if r.ServerCPUPerOp > 0 {
			add(base+" servers cpu us/op", r.Label, r.ServerCPUPerOp)
		}
		if r.ServerSwitchesPerOp > 0 {
			add(base+" servers switches/op", r.Label, r.ServerSwitchesPerOp)
		}
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "figure\t%s\t%s\t%s/%s\t\n", a, b, b, a)
	for _, name := range order {
		f := figs[name]
		va, oka := mean(f, a)
		vb, okb := mean(f, b)
		ratio := "-"
		if oka && okb && va != 0 {
			ratio = fmt.Sprintf("%.2f", vb/va)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", name, num(va, oka), num(vb, okb), ratio)
	}
	return tw.Flush()
}

func describeShort(r *Result) string {
	switch r.Workload {
	case Mixed:
		return fmt.Sprintf("mixed%.0f", r.ReadRatio*100)
	case Watch:
		return fmt.Sprintf("watch w=%d", r.Watchers)
	}
	return string(r.Workload)
}

func mean(f *figure, label string) (float64, bool) {
	if f.n[label] == 0 {
		return 0, false
	}
	return f.sum[label] / float64(f.n[label]), true
}

func num(v float64, ok bool) string {
	switch {
	case !ok:
		return "n/a"
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	default:
		return fmt.Sprintf("%.3g", v)
	}
}
