package httpapi_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/testcluster"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// At debug level every request is one structured record with its method, path, status and
// duration, and the member's name.
func TestRequestLogAtDebug(t *testing.T) {
	var buf syncBuffer
	c := testcluster.New(t, 1, testcluster.WithConfig(func(_ int, cfg *node.Config) {
		cfg.Logger = slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}))
	if _, err := c.Put(0, "/logged", "v"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Get(0, "/not-there", nil); err == nil {
		t.Fatal("GET of a missing key succeeded")
	}
	want := map[string]float64{"PUT /v2/keys/logged": 201, "GET /v2/keys/not-there": 404}
	testcluster.CheckFor(t, 10*time.Second, 20*time.Millisecond, func() error {
		found := 0
		for _, line := range strings.Split(buf.String(), "\n") {
			var rec map[string]any
			if json.Unmarshal([]byte(line), &rec) != nil || rec["msg"] != "request" {
				continue
			}
			key := fmt.Sprint(rec["method"], " ", rec["path"])
			status, ok := want[key]
			if !ok {
				continue
			}
			if rec["status"] != status || rec["level"] != "DEBUG" || rec["name"] != c.Members[0].Name {
				return fmt.Errorf("request record %v", rec)
			}
			if d, ok := rec["duration"].(float64); !ok || d <= 0 {
				return fmt.Errorf("request record without a duration: %v", rec)
			}
			found++
		}
		if found != len(want) {
			return fmt.Errorf("%d of %d request records in:\n%s", found, len(want), buf.String())
		}
		return nil
	})
	// raft's records are structured too: its configuration is one plain value.
	if s := buf.String(); strings.Contains(s, "%+v") || strings.Contains(s, "Suffrage:") {
		t.Fatalf("raft record with a raw format: %s", s)
	}
}
