package relay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func newCommitServer(t *testing.T, wait func(ctx context.Context, after uint64) (uint64, uint64, error)) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{ln: ln, addr: ln.Addr().String()}
	ts.Server = NewServer(ServerConfig{ClusterID: 1, MaxBody: 1 << 10, Timeout: 5 * time.Second,
		Handle: func(ctx context.Context, req *Request) *Reply {
			ts.handled.Add(1)
			return echo(ctx, req)
		}, WaitCommit: wait})
	go func() { _ = ts.Serve(countingListener{ln, &ts.accepts}) }()
	t.Cleanup(func() { ln.Close(); ts.Close() })
	return ts
}

func TestCommitNoticeFramesRoundTrip(t *testing.T) {
	for _, c := range []struct {
		name    string
		err     error
		kind    byte
		notLead bool
	}{
		{"notice", nil, kindCommit, false},
		{"not leader", fmt.Errorf("x: %w", ErrNotLeader), kindNotLeader, true},
		{"failure", errors.New("stopping"), kindIndexError, false},
	} {
		f := encodeCommitReply(7, 1<<40+3, 9, c.err)
		id, r, err := decodeReply(f[frameHeaderLen:])
		if err != nil || id != 7 || r.kind != c.kind || r.NotLeader != c.notLead {
			t.Fatalf("%s: round trip: %v %d %+v", c.name, err, id, r)
		}
	}
	good := encodeCommitReply(1, 2, 3, nil)[frameHeaderLen:]
	for name, b := range map[string][]byte{
		"cut short": good[:len(good)-1],
		"tail":      append(append([]byte{}, good...), 0),
	} {
		if _, _, err := decodeReply(b); !errors.Is(err, errMalformed) {
			t.Errorf("%s: decoded (%v)", name, err)
		}
	}
}

// The leader holds the request until it has applied past the follower's index, then answers
// with its commit index and term; the write handler never sees it.
func TestCommitNoticeWaitsForTheNextApply(t *testing.T) {
	var applied atomic.Uint64
	applied.Store(10)
	advanced := make(chan struct{})
	ts := newCommitServer(t, func(ctx context.Context, after uint64) (uint64, uint64, error) {
		if applied.Load() <= after {
			select {
			case <-advanced:
			case <-ctx.Done():
			}
		}
		return applied.Load(), 4, nil
	})
	c := newTestClient(t, 1)
	n, err := c.WaitCommit(context.Background(), ts.addr, 5)
	if err != nil || n.Commit != 10 || n.Term != 4 {
		t.Fatalf("notice past 5: %+v %v", n, err)
	}
	got := make(chan CommitNotice, 1)
	go func() {
		n, err := c.WaitCommit(context.Background(), ts.addr, 10)
		if err != nil {
			t.Error(err)
		}
		got <- n
	}()
	select {
	case n := <-got:
		t.Fatalf("answered %+v before the leader applied past 10", n)
	case <-time.After(50 * time.Millisecond):
	}
	applied.Store(11)
	close(advanced)
	if n := <-got; n.Commit != 11 {
		t.Fatalf("notice after the apply: %+v", n)
	}
	if ts.handled.Load() != 0 {
		t.Fatal("a commit-notice request reached the write handler")
	}
}

func TestCommitNoticeNotLeaderAndUnsupported(t *testing.T) {
	ts := newCommitServer(t, func(ctx context.Context, after uint64) (uint64, uint64, error) {
		return 0, 0, fmt.Errorf("%w: deposed", ErrNotLeader)
	})
	c := newTestClient(t, 1)
	if _, err := c.WaitCommit(context.Background(), ts.addr, 1); !errors.Is(err, ErrNotLeader) {
		t.Fatalf("not leader: %v", err)
	}
	// A leader without commit notices, and one of an earlier build whose write handler refuses
	// the body as a malformed command.
	for name, ts := range map[string]*testServer{
		"nil WaitCommit": newTestServer(t, 1, echo),
		"write handler answers": newTestServer(t, 1, func(ctx context.Context, req *Request) *Reply {
			if req.Body[0] != commitMarker {
				t.Errorf("body %x does not open with the marker", req.Body)
			}
			return &Reply{Status: 400, Body: []byte("malformed command")}
		}),
	} {
		if _, err := c.WaitCommit(context.Background(), ts.addr, 1); !errors.Is(err, ErrUnsupported) || !strings.Contains(err.Error(), ts.addr) {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if _, err := c.Do(context.Background(), ts.addr, &Request{Flags: flagCommitWait, Body: []byte("w")}); err == nil {
		t.Fatal("a write with flag bit 6 was sent")
	}
}
