package bench

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestComparisonAveragesRepeatsAndRatios(t *testing.T) {
	var in bytes.Buffer
	for _, r := range []Record{
		{Result: Result{Label: "etcd", Workload: Put, Clients: 64, OpsPerSec: 6000, Latency: LatencySummary{P99: 10}}},
		{Result: Result{Label: "cairn", Workload: Put, Clients: 64, OpsPerSec: 11000, Latency: LatencySummary{P99: 4}}},
		{Result: Result{Label: "etcd", Workload: Put, Clients: 64, OpsPerSec: 8000, Latency: LatencySummary{P99: 10}}},
		{Result: Result{Label: "cairn", Workload: Put, Clients: 64, OpsPerSec: 17000, Latency: LatencySummary{P99: 6}}},
		{Result: Result{Label: "etcd"}, Metric: "rss_1M", Value: 900, Unit: "MiB"},
		{Result: Result{Label: "etcd", Workload: Watch, Watchers: 4, Clients: 4, Elapsed: 2, Writes: 100, OpsPerSec: 200}},
	} {
		b, _ := json.Marshal(r)
		in.Write(append(b, '\n'))
	}
	recs, err := ReadRecords(&in)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := WriteComparison(&out, recs, "etcd", "cairn"); err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"put c=64 ops/s":         {"7000", "14000", "2.00"},
		"put c=64 p99 ms":        {"10", "5", "0.50"},
		"rss_1M (MiB)":           {"900", "n/a", "-"},
		"watch w=4 c=4 writes/s": {"50", "n/a", "-"},
	}
	for line := range strings.SplitSeq(out.String(), "\n") {
		for name, cols := range want {
			if strings.HasPrefix(strings.TrimSpace(line), name) {
				if got := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), name)); strings.Join(got, " ") != strings.Join(cols, " ") {
					t.Errorf("%s: got %v, want %v", name, got, cols)
				}
				delete(want, name)
			}
		}
	}
	if len(want) > 0 {
		t.Fatalf("rows missing %v in:\n%s", want, out.String())
	}
}

func TestReadRecordsRejectsGarbage(t *testing.T) {
	if _, err := ReadRecords(strings.NewReader("{\"ops\":1}\nnot json\n")); err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("err = %v, want a line-2 error", err)
	}
}
