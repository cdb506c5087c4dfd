package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/internal/bench"
)

func execute(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	root := newRoot(&out, &errb)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errb.String(), err
}

func TestUnknownTargetRejected(t *testing.T) {
	_, _, err := execute(t, "put", "--target", "zookeeper", "--total", "1")
	if err == nil || !strings.Contains(err.Error(), "unknown --target") {
		t.Fatalf("err = %v", err)
	}
}

func TestJSONResultCountsTransportErrors(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	out, _, err := execute(t, "put", "--endpoints", "http://"+addr, "--total", "3", "--clients", "1",
		"--json", "--progress=false", "--label", "x")
	if err != nil {
		t.Fatal(err)
	}
	var res bench.Result
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not one JSON result: %v\n%s", err, out)
	}
	if res.Label != "x" || res.Ops != 0 || res.Errors["transport-refused"] != 3 {
		t.Fatalf("result %+v", res)
	}
}

func TestHTTPFlag(t *testing.T) {
	_, _, err := execute(t, "put", "--http", "curl", "--total", "1", "--progress=false")
	if err == nil || !strings.Contains(err.Error(), "http must be raw or stdlib") {
		t.Fatalf("err = %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	for _, impl := range []string{"", "raw", "stdlib"} {
		args := []string{"put", "--endpoints", "http://" + addr, "--total", "2", "--clients", "1", "--json", "--progress=false"}
		if impl != "" {
			args = append(args, "--http", impl)
		}
		out, _, err := execute(t, args...)
		if err != nil {
			t.Fatal(err)
		}
		var res bench.Result
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("output is not one JSON result: %v\n%s", err, out)
		}
		want := bench.HTTPImpl(impl)
		if impl == "" {
			want = bench.RawHTTP // the default
		}
		if res.HTTP != want || res.Errors["transport-refused"] != 2 {
			t.Fatalf("--http %q: result %+v", impl, res)
		}
	}
}

func TestReportCommand(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.jsonl")
	lines := `{"label":"etcd","workload":"get","clients":8,"ops_per_s":1000}
{"label":"cairn","workload":"get","clients":8,"ops_per_s":4000}
`
	if err := os.WriteFile(p, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out, _, err := execute(t, "report", p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "get c=8 ops/s") || !strings.Contains(out, "4.00") {
		t.Fatalf("report:\n%s", out)
	}
}
