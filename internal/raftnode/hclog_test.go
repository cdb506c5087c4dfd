package raftnode

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

func records(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("%q: %v", line, err)
		}
		out = append(out, m)
	}
	buf.Reset()
	return out
}

func TestHCLogToSlog(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLog(slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelInfo})), "raft")

	l.Debug("hidden")
	l.Trace("hidden too")
	l.Info("hello", "peer", "b")
	l.Named("snapshot").With("id", "1-2-3").Warn("slow", "ms", 12)
	l.Error("bad")
	l.Log(hclog.Off, "never")
	buf0 := strings.Split(buf.String(), "\n")[1]
	got := records(t, &buf)
	if len(got) != 3 {
		t.Fatalf("records %v", got)
	}
	if got[0]["level"] != "INFO" || got[0]["msg"] != "hello" || got[0]["peer"] != "b" || got[0]["component"] != "raft" {
		t.Fatalf("info record %v", got[0])
	}
	if n := strings.Count(buf0, `"component"`); n != 1 {
		t.Fatalf("component logged %d times in %s", n, buf0)
	}
	if got[1]["level"] != "WARN" || got[1]["component"] != "raft.snapshot" || got[1]["id"] != "1-2-3" || got[1]["ms"] != float64(12) {
		t.Fatalf("warn record %v", got[1])
	}
	if got[2]["level"] != "ERROR" {
		t.Fatalf("error record %v", got[2])
	}
	if l.IsDebug() || l.IsTrace() || !l.IsInfo() || l.GetLevel() != hclog.Info {
		t.Fatal("levels do not follow the slog handler")
	}

	w := l.StandardWriter(&hclog.StandardLoggerOptions{InferLevels: true})
	_, _ = w.Write([]byte("[WARN] raft-net: failed to accept\n"))
	_, _ = w.Write([]byte("[DEBUG] dropped\n"))
	l.StandardLogger(nil).Print("plain line")
	got = records(t, &buf)
	if len(got) != 2 || got[0]["level"] != "WARN" || got[0]["msg"] != "raft-net: failed to accept" ||
		got[1]["level"] != "INFO" || got[1]["msg"] != "plain line" {
		t.Fatalf("standard writer records %v", got)
	}

	var tbuf bytes.Buffer
	tl := newHCLog(slog.New(slog.NewJSONHandler(&tbuf, &slog.HandlerOptions{Level: levelTrace})), "raft")
	tl.Trace("t")
	if r := records(t, &tbuf); len(r) != 1 || r[0]["level"] != "DEBUG-4" || !tl.IsTrace() {
		t.Fatalf("trace record %v", r)
	}
}

// raft logs its configuration through hclog.Fmt("%+v", servers); it must arrive as one plain
// value, not as a slice holding the format string.
func TestHCLogValuesArePlain(t *testing.T) {
	var buf bytes.Buffer
	l := newHCLog(slog.New(slog.NewJSONHandler(&buf, nil)), "raft")
	servers := []raft.Server{{Suffrage: raft.Voter, ID: "a1", Address: "127.0.0.1:2380"},
		{Suffrage: raft.Nonvoter, ID: "b2", Address: "127.0.0.1:2480"}}
	l.Info("initial configuration", "index", 1, "servers", hclog.Fmt("%+v", servers))
	l.With("tag", hclog.Fmt("%d-%s", 7, "x")).Info("formatted", "id", hclog.Hex(255), "q", hclog.Quote("v"))
	got := records(t, &buf)
	if len(got) != 2 {
		t.Fatalf("records %v", got)
	}
	if s := got[0]["servers"]; s != "a1=127.0.0.1:2380,b2=127.0.0.1:2480(Nonvoter)" {
		t.Fatalf("servers = %#v", s)
	}
	if got[1]["tag"] != "7-x" || got[1]["id"] != "0xff" || got[1]["q"] != "v" {
		t.Fatalf("formatted record %v", got[1])
	}
}
