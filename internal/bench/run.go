package bench

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Result is what one run measured. Ops counts successful operations in the
// measured window (for watch: events delivered to watchers); failed ones are
// in Errors by kind and have no latency recorded.
type Result struct {
	Label     string    `json:"label,omitempty"`
	Workload  Workload  `json:"workload"`
	Target    string    `json:"target"`
	Endpoints []string  `json:"endpoints"`
	Clients   int       `json:"clients"`
	Conns     int       `json:"conns"`
	HTTP      HTTPImpl  `json:"http,omitempty"` // the generator's request path
	Watchers  int       `json:"watchers,omitempty"`
	KeyCount  int       `json:"key_count"`
	KeySize   int       `json:"key_size"`
	ValueSize int       `json:"value_size"`
	ReadRatio float64   `json:"read_ratio,omitempty"`
	Rate      float64   `json:"rate"`
	Start     time.Time `json:"start"`
	Elapsed   float64   `json:"elapsed_s"`
	Ops       int64     `json:"ops"`
	OpsPerSec float64   `json:"ops_per_s"`
	Writes    int64     `json:"writes,omitempty"` // watch: the writer's puts
	ClientCPU float64   `json:"client_cpu_cores"` // cores the generator used during the run
	// The generator's and the servers' CPU (user+system) per operation, in µs,
	// and the cores the servers used over the measured window (servercpu.go).
	ClientCPUPerOp float64 `json:"client_cpu_us_per_op,omitempty"`
	ServerCPUPerOp float64 `json:"server_cpu_us_per_op,omitempty"`
	ServerCores    float64 `json:"server_cpu_cores,omitempty"`
	// The servers' threads' context switches per operation, all of them and the
	// involuntary ones (preemptions) alone.
	ServerSwitchesPerOp    float64        `json:"server_switches_per_op,omitempty"`
	ServerPreemptionsPerOp float64        `json:"server_preemptions_per_op,omitempty"`
	ServerPIDs             []int          `json:"server_pids,omitempty"`
	Procs                  int            `json:"procs,omitempty"` // the generator's GOMAXPROCS
	Errors                 ErrorCounts    `json:"errors"`
	ErrTotal               int64          `json:"errors_total"`
	Latency                LatencySummary `json:"latency"`
}

// worker is one client's private state: nothing here is shared, except the two
// counters the progress line reads.
type worker struct {
	id   int
	conn *Conn
	rng  *rand.Rand
	rec  *Recorder
	errs ErrorCounts
	form []byte
	ops  atomic.Int64
	nerr atomic.Int64
	// cas: keys this worker owns and the modifiedIndex last seen for each (0 = unknown).
	casKeys []int
	casIdx  []uint64
	casNext int
}

// ProgressFunc receives the live figures once a second: seconds since the
// measured window opened (negative during warmup), ops/s over the last second,
// and totals so far.
type ProgressFunc func(elapsed time.Duration, rate float64, ops, errs int64)

// Run executes cfg's workload and returns what it measured. ctx cancels it
// early (the result then covers the time actually run).
func Run(ctx context.Context, cfg Config, progress ProgressFunc) (*Result, error) {
	if err := cfg.Normalize(); err != nil {
		return nil, err
	}
	var tlsCfg *tls.Config
	if !cfg.TLS.Empty() {
		var err error
		if tlsCfg, err = cfg.TLS.ClientConfig(); err != nil {
			return nil, err
		}
	}
	cl, err := NewClient(cfg.Endpoints, cfg.Conns, cfg.Timeout, cfg.HTTP, tlsCfg)
	if err != nil {
		return nil, err
	}
	if cfg.User != "" {
		user, password, _ := strings.Cut(cfg.User, ":")
		cl.SetBasicAuth(user, password)
	}
	defer cl.Close()
	keys := NewKeySpace(cfg.KeyPrefix, cfg.KeyCount, cfg.KeySize)
	res := &Result{
		Label: cfg.Label, Workload: cfg.Workload, Target: cfg.Flavour.Name, Endpoints: cfg.Endpoints,
		Clients: cfg.Clients, Conns: cfg.Conns, KeyCount: cfg.KeyCount, KeySize: cfg.KeySize,
		ValueSize: cfg.ValueSize, Rate: cfg.Rate, Errors: ErrorCounts{}, HTTP: cl.Impl(),
		Procs: runtime.GOMAXPROCS(0),
	}
	if cfg.Workload == Mixed {
		res.ReadRatio = cfg.ReadRatio
	}
	if cfg.Workload == Watch {
		res.Watchers = cfg.Watchers
		m := startCPU()
		err := runWatch(ctx, cfg, cl, keys, res, progress)
		res.ClientCPU = m.cores()
		return res, err
	}
	if cfg.Preload && cfg.Workload != Put {
		if err := Preload(ctx, cl, keys, cfg.Clients, cfg.ValueSize); err != nil {
			return nil, err
		}
	}
	m := startCPU()
	err = runWorkers(ctx, cfg, cl, keys, res, progress)
	res.ClientCPU = m.cores()
	if res.Ops > 0 {
		res.ClientCPUPerOp = res.ClientCPU * res.Elapsed * 1e6 / float64(res.Ops)
	}
	return res, err
}

// Preload writes every key once with clients workers, so reads find them.
func Preload(ctx context.Context, cl *Client, keys *KeySpace, clients, valueSize int) error {
	var next atomic.Int64
	var failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for i := range min(clients, keys.Len()) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := cl.NewConn(ctx, i)
			defer c.Close()
			form := append([]byte("value="), Value(rand.New(rand.NewPCG(uint64(i), 7)), valueSize)...)
			for {
				k := int(next.Add(1) - 1)
				if k >= keys.Len() || ctx.Err() != nil {
					return
				}
				resp, err := c.Do(http.MethodPut, keys.Key(k), "", form)
				if kind := Classify(resp.Status, resp.Body, err); kind != "" {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, fmt.Sprintf("%s on %s", kind, keys.Key(k)))
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return err
	}
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("preload: %d of %d puts failed, first: %v", n, keys.Len(), firstErr.Load())
	}
	return nil
}

func runWorkers(ctx context.Context, cfg Config, cl *Client, keys *KeySpace, res *Result, progress ProgressFunc) error {
	measureStart := time.Now().Add(cfg.Warmup)
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	if cfg.Total <= 0 {
		var c2 context.CancelFunc
		runCtx, c2 = context.WithDeadline(runCtx, measureStart.Add(cfg.Duration))
		defer c2()
	}
	pacer := NewPacer(cfg.Rate)
	var issued, seq atomic.Int64
	workers := make([]*worker, cfg.Clients)
	for i := range workers {
		w := &worker{
			id: i, conn: cl.NewConn(runCtx, i), rng: newRand(uint64(i)),
			rec: NewRecorder(), errs: ErrorCounts{},
		}
		w.form = append([]byte("value="), Value(w.rng, cfg.ValueSize)...)
		if cfg.Workload == CAS {
			w.assignCASKeys(cfg.Clients, keys.Len())
		}
		workers[i] = w
	}
	pick := func(w *worker) string {
		if cfg.KeyOrder == Sequential {
			return keys.Key(int(seq.Add(1) - 1))
		}
		return keys.Random(w.rng)
	}
	op := func(w *worker) (string, bool) {
		switch cfg.Workload {
		case Put:
			return put(w, pick(w))
		case Get:
			return get(w, pick(w), cfg.Flavour.LinearQuery)
		case SGet:
			return get(w, pick(w), cfg.Flavour.SerialQuery)
		case Mixed:
			if w.rng.Float64() < cfg.ReadRatio {
				q := cfg.Flavour.LinearQuery
				if cfg.MixedRead == SGet {
					q = cfg.Flavour.SerialQuery
				}
				return get(w, pick(w), q)
			}
			return put(w, pick(w))
		case CAS:
			return cas(w, keys, cfg.Flavour.LinearQuery)
		}
		panic("unreachable: Normalize rejects unknown workloads")
	}

	res.Start = measureStart
	srv := startServerMeter(cfg.ServerPIDs, measureStart)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if pacer.Wait(runCtx) != nil {
					return
				}
				t0 := time.Now()
				measured := !t0.Before(measureStart)
				// Past the total a worker just stops: cancelling would abort
				// the others' operations in flight and lose them.
				if measured && cfg.Total > 0 && issued.Add(1) > cfg.Total {
					return
				}
				kind, ok := op(w)
				if !ok {
					return // the run ended under this operation
				}
				if !measured {
					continue
				}
				if kind == "" {
					w.rec.Record(time.Since(t0))
					w.ops.Add(1)
				} else {
					w.errs[kind]++
					w.nerr.Add(1)
				}
			}
		}()
	}
	stopProgress := startProgress(measureStart, progress, func() (int64, int64) {
		var o, e int64
		for _, w := range workers {
			o += w.ops.Load()
			e += w.nerr.Load()
		}
		return o, e
	})
	wg.Wait()
	end := time.Now()
	stopProgress()

	rec := NewRecorder()
	for _, w := range workers {
		rec.Merge(w.rec)
		res.Errors.Add(w.errs)
		res.Ops += w.ops.Load()
	}
	finish(res, rec, end.Sub(measureStart))
	if err := srv.finish(res); err != nil {
		return fmt.Errorf("servers' cpu: %w", err)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return nil
}

func finish(res *Result, rec *Recorder, elapsed time.Duration) {
	res.Elapsed = elapsed.Seconds()
	if res.Elapsed > 0 {
		res.OpsPerSec = float64(res.Ops) / res.Elapsed
	}
	res.ErrTotal = res.Errors.Total()
	res.Latency = rec.Summary()
}

// startProgress calls progress once a second until the returned stop is called.
func startProgress(measureStart time.Time, progress ProgressFunc, totals func() (int64, int64)) func() {
	if progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		var lastOps int64
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				ops, errs := totals()
				progress(now.Sub(measureStart), float64(ops-lastOps)/now.Sub(last).Seconds(), ops, errs)
				lastOps, last = ops, now
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// ended reports whether err is the run's own end (deadline or cancel) rather
// than a failure of the server: such an operation is neither an op nor an error.
func ended(w *worker, err error) bool {
	return err != nil && w.conn.ctx.Err() != nil
}

func put(w *worker, key string) (string, bool) {
	resp, err := w.conn.Do(http.MethodPut, key, "", w.form)
	if ended(w, err) {
		return "", false
	}
	return Classify(resp.Status, resp.Body, err), true
}

func get(w *worker, key, query string) (string, bool) {
	resp, err := w.conn.Do(http.MethodGet, key, query, nil)
	if ended(w, err) {
		return "", false
	}
	return Classify(resp.Status, resp.Body, err), true
}

// assignCASKeys gives worker w every key k with k % clients == w, so workers do
// not contend; with fewer keys than clients, workers share key w % count and
// their conflicts show up as etcd-101 errors.
func (w *worker) assignCASKeys(clients, count int) {
	for k := w.id; k < count; k += clients {
		w.casKeys = append(w.casKeys, k)
	}
	if len(w.casKeys) == 0 {
		w.casKeys = []int{w.id % count}
	}
	w.casIdx = make([]uint64, len(w.casKeys))
}

// cas performs one compare-and-swap on the worker's next key, first reading the
// key's modifiedIndex when it is not known (at start, or after a conflict).
// The read is part of the operation's latency: it is what a real CAS client pays.
func cas(w *worker, keys *KeySpace, linearQuery string) (string, bool) {
	slot := w.casNext
	w.casNext = (w.casNext + 1) % len(w.casKeys)
	key := keys.Key(w.casKeys[slot])
	if w.casIdx[slot] == 0 {
		resp, err := w.conn.Do(http.MethodGet, key, linearQuery, nil)
		if ended(w, err) {
			return "", false
		}
		if kind := Classify(resp.Status, resp.Body, err); kind != "" {
			return kind, true
		}
		idx, ok := scanUint(resp.Body, `"modifiedIndex":`)
		if !ok {
			return "bad-response", true
		}
		w.casIdx[slot] = idx
	}
	resp, err := w.conn.Do(http.MethodPut, key, "prevIndex="+strconv.FormatUint(w.casIdx[slot], 10), w.form)
	if ended(w, err) {
		return "", false
	}
	kind := Classify(resp.Status, resp.Body, err)
	if kind != "" {
		w.casIdx[slot] = 0
		return kind, true
	}
	// The node comes before prevNode in the reply, so the first modifiedIndex is the new one.
	idx, ok := scanUint(resp.Body, `"modifiedIndex":`)
	if !ok {
		w.casIdx[slot] = 0
		return "bad-response", true
	}
	w.casIdx[slot] = idx
	return "", true
}
