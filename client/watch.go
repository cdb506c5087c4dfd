package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// WatchEvent is one change, or the error that ended the watch (then the channel closes).
type WatchEvent struct {
	Response *Response
	Err      error
}

// Watch streams the changes of key (its subtree with Recursive) until ctx ends or the Cluster
// closes. After a lost connection it reconnects, to another node if needed, and resumes from
// the index after the last event it delivered, so nothing is missed or repeated. When that
// index has left the server's history, it delivers an error matching ErrEventIndexCleared
// and closes: the caller must re-read and watch again from a fresh index.
func (s *Session) Watch(ctx context.Context, key string, options ...WatchOption) <-chan WatchEvent {
	o := collect(options)
	ch := make(chan WatchEvent)
	s.c.wg.Add(1)
	go func() {
		defer s.c.wg.Done()
		defer close(ch)
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(s.c.ctx, cancel)()
		s.watchLoop(ctx, key, o, ch)
	}()
	return ch
}

func (s *Session) watchLoop(ctx context.Context, key string, o opts, ch chan<- WatchEvent) {
	next := o.waitIndex
	backoff := s.b.BackoffBase
	tried := map[*node]bool{}
	deliver := func(ev WatchEvent) bool {
		select {
		case ch <- ev:
			return true
		case <-ctx.Done():
			return false
		}
	}
	for ctx.Err() == nil {
		resp, idx, err := s.watchOnce(ctx, key, o.recursive, next, tried)
		if err == nil {
			tried = map[*node]bool{}
			backoff = s.b.BackoffBase
			next = idx
			if !deliver(WatchEvent{Response: resp}) {
				return
			}
			continue
		}
		var ce *Error
		if errors.As(err, &ce) {
			deliver(WatchEvent{Err: err})
			return
		}
		if ctx.Err() != nil {
			return
		}
		if errors.Is(err, errWatchStarted) {
			// Connected and then lost before any event: resume from where the server started.
			next = idx
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(backoff*2, time.Second)
	}
}

// errWatchStarted marks a watch that reached a server and learnt its start index, then failed.
var errWatchStarted = errors.New("watch connection lost")

// watchOnce waits for one event from index next (0: the next one). It returns the event and
// the index to wait from afterwards.
func (s *Session) watchOnce(ctx context.Context, key string, recursive bool, next uint64, tried map[*node]bool) (*Response, uint64, error) {
	n, err := s.c.pick(false, s.b.Replica, tried)
	if err != nil {
		clear(tried)
		s.c.requestRefresh()
		return nil, next, err
	}
	if err := n.acquire(); err != nil {
		tried[n] = true
		return nil, next, err
	}
	defer n.release()
	q := url.Values{"wait": {"true"}}
	if recursive {
		q.Set("recursive", "true")
	}
	if next > 0 {
		q.Set("waitIndex", strconv.FormatUint(next, 10))
	}
	resp, err := s.c.send(ctx, n, request{method: http.MethodGet, path: keyPath(key, q)})
	if err != nil {
		tried[n] = true
		if ctx.Err() == nil {
			n.failed(err, s.c.settings)
			s.c.requestRefresh()
		}
		return nil, next, err
	}
	defer resp.Body.Close()
	served := resp.Header.Get("X-Cairn-Node")
	if resp.StatusCode != http.StatusOK {
		body := make([]byte, 0, 512)
		buf := make([]byte, 512)
		k, _ := resp.Body.Read(buf)
		body = append(body, buf[:k]...)
		rerr := replyError(&reply{status: resp.StatusCode, header: resp.Header, body: body, node: served})
		if resp.StatusCode >= 500 {
			tried[n] = true
			n.answeredBadly(s.c.settings)
			s.c.requestRefresh()
			var ce *Error
			if errors.As(rerr, &ce) {
				return nil, next, fmt.Errorf("node %s: %s", served, ce.Message)
			}
		}
		return nil, next, rerr
	}
	if next == 0 {
		// The server registered the watch at this index: later events are above it.
		next = headerIndex(resp.Header) + 1
	}
	var ev wireEvent
	if err := json.NewDecoder(resp.Body).Decode(&ev); err != nil {
		return nil, next, fmt.Errorf("%w: node %s: %v", errWatchStarted, served, err)
	}
	r := &Response{Action: ev.Action, Node: ev.Node.node(), PrevNode: ev.PrevNode.node(),
		Index: headerIndex(resp.Header), ServedBy: served}
	if r.Node != nil {
		next = r.Node.ModifiedIndex + 1
	}
	return r, next, nil
}
