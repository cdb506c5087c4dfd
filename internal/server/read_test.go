package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
)

type fakeIndexer struct {
	asked atomic.Int64
	idx   uint64
	err   error
}

func (f *fakeIndexer) ReadIndex(ctx context.Context, leaderURL string) (uint64, error) {
	f.asked.Add(1)
	return f.idx, f.err
}

// readIndexFrom asks through the ReadIndexer, turns to HTTP only for a leader that does not take
// read-index requests that way, gives up at once on another cluster and asks again after any
// other failure.
func TestReadIndexFromPrefersTheReadIndexer(t *testing.T) {
	var httpAsked atomic.Int64
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != ReadIndexPath {
			http.NotFound(w, r)
			return
		}
		httpAsked.Add(1)
		fmt.Fprint(w, `{"index":31}`)
	}))
	defer leader.Close()
	cases := []struct {
		name      string
		indexer   *fakeIndexer
		idx       uint64
		retry     bool
		err       error // errors.Is target; nil: success
		overHTTP  bool
		noIndexer bool
	}{
		{name: "relay answers", indexer: &fakeIndexer{idx: 17}, idx: 17},
		{name: "leader without it", indexer: &fakeIndexer{err: fmt.Errorf("%w: old build", ErrReadIndexUnsupported)}, idx: 31, overHTTP: true},
		{name: "another cluster", indexer: &fakeIndexer{err: fmt.Errorf("%w: refused", ErrClusterIDMismatch)}, err: ErrClusterIDMismatch},
		{name: "lost connection", indexer: &fakeIndexer{err: errors.New("connection lost after sending")}, retry: true, err: errors.New("")},
		{name: "no indexer", noIndexer: true, idx: 31, overHTTP: true},
	}
	for _, c := range cases {
		cfg := Config{ClusterID: 1, PeerClient: leader.Client()}
		if !c.noIndexer {
			cfg.ReadIndexer = c.indexer
		}
		s := &Server{cfg: cfg}
		before := httpAsked.Load()
		idx, retry, err := s.readIndexFrom(context.Background(), leader.URL)
		switch {
		case c.err == nil && err != nil, c.err != nil && err == nil:
			t.Errorf("%s: error %v", c.name, err)
		case c.err != nil && c.err.Error() != "" && !errors.Is(err, c.err):
			t.Errorf("%s: error %v, want %v", c.name, err, c.err)
		case idx != c.idx || retry != c.retry:
			t.Errorf("%s: index %d retry %v, want %d %v", c.name, idx, retry, c.idx, c.retry)
		case (httpAsked.Load() > before) != c.overHTTP:
			t.Errorf("%s: asked over HTTP %d times", c.name, httpAsked.Load()-before)
		case !c.noIndexer && c.indexer.asked.Load() != 1:
			t.Errorf("%s: indexer asked %d times, want 1", c.name, c.indexer.asked.Load())
		}
	}
}
