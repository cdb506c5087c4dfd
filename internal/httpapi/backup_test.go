package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cairn-io/cairn/api"
	"github.com/cairn-io/cairn/internal/backup"
	"github.com/cairn-io/cairn/internal/testcluster"
)

// The snapshot endpoint serves a backup holding every acknowledged write; a member that cannot
// reach a leader refuses rather than serve a possibly stale state.
func TestSnapshotEndpoint(t *testing.T) {
	c := testcluster.New(t, 3)
	w, err := c.Put(0, "/b/k", "v")
	if err != nil {
		t.Fatal(err)
	}
	get := func(i int) (int, []byte) {
		resp, err := http.Get(c.Members[i].ClientURL + api.SnapshotPath)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	code, b := get(1)
	if code != http.StatusOK {
		t.Fatalf("snapshot: %d %s", code, b)
	}
	_, info, err := backup.Decode(b)
	if err != nil || info.Index < w.Node.ModifiedIndex || info.Keys != 1 {
		t.Fatalf("backup %+v (write at %d): %v", info, w.Node.ModifiedIndex, err)
	}
	c.Kill(0)
	c.Kill(2)
	testcluster.CheckFor(t, 20*time.Second, 100*time.Millisecond, func() error {
		if code, b := get(1); code == http.StatusOK {
			return fmt.Errorf("a member without quorum served a snapshot (%d bytes)", len(b))
		}
		return nil
	})
}
