package bench

import (
	"bufio"
	"bytes"
	"context"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// stampLen is the width of the send time (unix nanoseconds, zero-padded) that
// the watch writer puts at the start of every value.
const stampLen = 19

// putStamp writes t into dst[:stampLen].
func putStamp(dst []byte, t time.Time) {
	n := t.UnixNano()
	for i := stampLen - 1; i >= 0; i-- {
		dst[i] = byte('0' + n%10)
		n /= 10
	}
}

var valueField = []byte(`"value":"`)

// readStamp finds the first value in an event (the node's; prevNode comes
// after it) and parses the send time at its start.
func readStamp(event []byte) (time.Time, bool) {
	i := bytes.Index(event, valueField)
	if i < 0 || len(event) < i+len(valueField)+stampLen {
		return time.Time{}, false
	}
	var n int64
	for _, c := range event[i+len(valueField) : i+len(valueField)+stampLen] {
		if c < '0' || c > '9' {
			return time.Time{}, false
		}
		n = n*10 + int64(c-'0')
	}
	return time.Unix(0, n), true
}

type watcher struct {
	conn     *Conn
	rec      *Recorder
	errs     ErrorCounts
	ops      atomic.Int64
	nerr     atomic.Int64
	lastSeen atomic.Uint64
	next     uint64 // waitIndex of the next request; 0 = from now
}

// runWatch measures delivery latency: the time from the writer starting a PUT
// to a watcher reading its event. It therefore includes the write's commit.
func runWatch(ctx context.Context, cfg Config, cl *Client, keys *KeySpace, res *Result, progress ProgressFunc) error {
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	watchKey, recursive := keys.Key(0), ""
	if cfg.WatchPrefix {
		watchKey, recursive = NewKeySpace(cfg.KeyPrefix, 1, 1).Prefix(), "&recursive=true"
	}
	// Watches hold their connection for as long as they wait, so they get their
	// own transport: borrowing from --conns would starve the writer.
	wtr := newTransport(cfg.Watchers, 0, cl.tls)
	defer wtr.CloseIdleConnections()
	var measureStart atomic.Int64
	measureStart.Store(math.MaxInt64)

	watchers := make([]*watcher, cfg.Watchers)
	var wg sync.WaitGroup
	for i := range watchers {
		w := &watcher{conn: newConn(runCtx, wtr, cl.endpoints[i%len(cl.endpoints)]), rec: NewRecorder(), errs: ErrorCounts{}}
		watchers[i] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.loop(runCtx, watchKey, recursive, cfg.WatchMode == "stream", cfg.ValueSize, &measureStart)
		}()
	}
	waitWatchers(runCtx, cl, cfg.Watchers)

	start := time.Now().Add(cfg.Warmup)
	measureStart.Store(start.UnixNano())
	res.Start = start
	if cfg.Total <= 0 {
		var c2 context.CancelFunc
		runCtx, c2 = context.WithDeadline(runCtx, start.Add(cfg.Duration))
		defer c2()
	}

	writerErrs := ErrorCounts{}
	var writes atomic.Int64
	var lastWritten uint64
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		conn := cl.NewConn(runCtx, 0)
		pacer := NewPacer(cfg.Rate)
		form := []byte("value=" + string(make([]byte, cfg.ValueSize)))
		copy(form[len("value="):], Value(newRand(0), cfg.ValueSize))
		for i := 0; ; i++ {
			if pacer.Wait(runCtx) != nil {
				return
			}
			if cfg.Total > 0 && writes.Load() >= cfg.Total {
				return
			}
			key := watchKey
			if cfg.WatchPrefix {
				key = keys.Key(i)
			}
			now := time.Now()
			putStamp(form[len("value="):], now)
			resp, err := conn.Do(http.MethodPut, key, "", form)
			if err != nil && runCtx.Err() != nil {
				return
			}
			if kind := Classify(resp.Status, resp.Body, err); kind != "" {
				if !now.Before(start) {
					writerErrs[kind]++
				}
				continue
			}
			if idx, ok := scanUint(resp.Body, `"modifiedIndex":`); ok {
				lastWritten = idx
			}
			if !now.Before(start) {
				writes.Add(1)
			}
		}
	}()

	stopProgress := startProgress(start, progress, func() (int64, int64) {
		var o, e int64
		for _, w := range watchers {
			o += w.ops.Load()
			e += w.nerr.Load()
		}
		return o, e
	})
	<-writerDone
	if cfg.Total > 0 {
		drain(runCtx, watchers, lastWritten)
	}
	cancel()
	wg.Wait()
	end := time.Now()
	stopProgress()

	rec := NewRecorder()
	for _, w := range watchers {
		rec.Merge(w.rec)
		res.Errors.Add(w.errs)
		res.Ops += w.ops.Load()
	}
	res.Errors.Add(writerErrs)
	res.Writes = writes.Load()
	finish(res, rec, end.Sub(start))
	return ctx.Err()
}

// drain waits, for at most five seconds, until every watcher has seen index.
func drain(ctx context.Context, watchers []*watcher, index uint64) {
	deadline := time.Now().Add(5 * time.Second)
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for time.Now().Before(deadline) {
		behind := false
		for _, w := range watchers {
			behind = behind || w.lastSeen.Load() < index
		}
		if !behind {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// waitWatchers polls /v2/stats/store on every endpoint until the servers count
// n watchers between them, so the writer does not start before the watchers
// listen. A server without those stats costs a bounded wait, not a failure.
func waitWatchers(ctx context.Context, cl *Client, n int) {
	tr := cl.tr
	if tr == nil {
		// The raw client has no Transport; a throwaway one keeps these few
		// polls off the workers' connections.
		tr = newTransport(1, time.Second, cl.tls)
		defer tr.CloseIdleConnections()
	}
	hc := &http.Client{Transport: tr, Timeout: time.Second}
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		total := 0
		for _, ep := range cl.endpoints {
			resp, err := hc.Get(ep.String() + "/v2/stats/store")
			if err != nil {
				continue
			}
			var buf bytes.Buffer
			_, _ = buf.ReadFrom(resp.Body)
			resp.Body.Close()
			if c, ok := scanUint(buf.Bytes(), `"watchers":`); ok {
				total += int(c)
			}
		}
		if total >= n {
			return
		}
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

func (w *watcher) loop(ctx context.Context, key, recursive string, stream bool, valueSize int, measureStart *atomic.Int64) {
	for ctx.Err() == nil {
		q := "wait=true" + recursive
		if stream {
			q += "&stream=true"
		}
		if w.next > 0 {
			q += "&waitIndex=" + strconv.FormatUint(w.next, 10)
		}
		if stream {
			w.stream(ctx, key, q, valueSize, measureStart)
			continue
		}
		resp, err := w.conn.Do(http.MethodGet, key, q, nil)
		if err != nil && ctx.Err() != nil {
			return
		}
		if kind := Classify(resp.Status, resp.Body, err); kind != "" {
			w.fail(ctx, kind, resp.Index)
			continue
		}
		w.event(resp.Body, measureStart)
	}
}

func (w *watcher) stream(ctx context.Context, key, q string, valueSize int, measureStart *atomic.Int64) {
	resp, err := w.conn.Open(key, q)
	if err != nil {
		if ctx.Err() == nil {
			w.fail(ctx, Classify(0, nil, err), 0)
		}
		return
	}
	defer resp.Body.Close()
	br := bufio.NewReaderSize(resp.Body, 2*valueSize+4096)
	if resp.StatusCode != http.StatusOK {
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(br)
		idx, _ := strconv.ParseUint(resp.Header.Get("X-Etcd-Index"), 10, 64)
		w.fail(ctx, Classify(resp.StatusCode, buf.Bytes(), nil), idx)
		return
	}
	for {
		line, err := br.ReadSlice('\n')
		if len(bytes.TrimSpace(line)) > 0 && err == nil {
			w.event(line, measureStart)
		}
		if err != nil {
			if ctx.Err() == nil && err != bufio.ErrBufferFull {
				// The server ended the stream; the loop reconnects from next.
				return
			}
			if err == bufio.ErrBufferFull {
				w.fail(ctx, "bad-response", 0)
			}
			return
		}
	}
}

// event handles one delivered event.
func (w *watcher) event(ev []byte, measureStart *atomic.Int64) {
	now := time.Now()
	idx, ok := scanUint(ev, `"modifiedIndex":`)
	if !ok {
		w.errs["bad-response"]++
		w.nerr.Add(1)
		return
	}
	w.next = idx + 1
	w.lastSeen.Store(idx)
	sent, ok := readStamp(ev)
	if !ok || sent.UnixNano() < measureStart.Load() {
		return // written before the measured window (or not by the writer)
	}
	w.rec.Record(now.Sub(sent))
	w.ops.Add(1)
}

// fail counts an error and decides where to resume: after a 401 (history
// cleared) the watcher skips to the server's current index, as a real client
// must; after a transport error it backs off briefly so a dead server is not
// hammered in a tight loop.
func (w *watcher) fail(ctx context.Context, kind string, index uint64) {
	w.errs[kind]++
	w.nerr.Add(1)
	if kind == "etcd-401" && index > 0 {
		w.next = index + 1
		return
	}
	t := time.NewTimer(50 * time.Millisecond)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}
