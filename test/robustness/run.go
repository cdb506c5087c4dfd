package robustness

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/cairn-io/cairn/test/robustness/model"
)

// Config shapes one run.
type Config struct {
	Bin      string
	Dir      string // data dirs, logs and evidence
	Seed     int64
	Duration time.Duration // how long faults are injected
	Logf     func(format string, args ...any)
	// Faults names the faults to draw from (all of allFaults when empty).
	Faults []string
}

// Result is what a run found.
type Result struct {
	Linearizable porcupine.CheckResult
	Problems     []string // every check's findings, linearizability included
	Ops          int
	Summary      string // operations by kind and outcome
	Faults       []string
	Evidence     string // directory with history.json, linearizability.html, watches.json
	Availability Availability
}

const (
	clients        = 6
	keysPerGen     = 4
	genPeriod      = 30 * time.Second
	recoverTimeout = 60 * time.Second
	clientTimeout  = 4 * time.Second
	maxProblems    = 20
)

// memberFlags are added to every member: a short request timeout keeps clients moving during
// faults, and a low snapshot threshold makes log compaction and snapshot installs (the re-added
// member) happen within a short run.
var memberFlags = []string{"--request-timeout", "2s", "--snapshot-count", "300", "--snapshot-interval", "1s"}

type run struct {
	cfg      Config
	c        *Cluster
	rnd      *rand.Rand
	rec      *Recorder
	began    time.Time
	mu       sync.Mutex
	problems []string
	ttlSeq   int
}

func (r *run) problem(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// keys returns the current generation of keys. Keys change every genPeriod, so operations
// whose outcome stays unknown only weigh on the few keys of their generation.
func (r *run) keys() []string {
	gen := int(time.Since(r.began) / genPeriod)
	out := make([]string, keysPerGen)
	for i := range out {
		out[i] = fmt.Sprintf("/rob/g%d-k%d", gen, i)
	}
	return out
}

// Run starts a cluster, drives load and faults for cfg.Duration, restarts the whole cluster
// and checks everything. An error means the run could not be carried out (setup, or the
// cluster never recovered); findings are in Result.Problems.
func Run(cfg Config) (*Result, error) {
	c, err := NewCluster(cfg.Bin, cfg.Dir, 3, cfg.Seed, memberFlags)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := &run{cfg: cfg, c: c, rnd: rand.New(rand.NewSource(cfg.Seed)), rec: NewRecorder(), began: time.Now()}
	res := &Result{}
	if err := c.StartAll(recoverTimeout); err != nil {
		return nil, fmt.Errorf("start: %w\n%s", err, c.LogTails(30))
	}
	if _, err := c.WaitLeader(recoverTimeout); err != nil {
		return nil, err
	}

	members := func() []*Member { return c.Members }
	loadCtx, stopLoad := context.WithCancel(context.Background())
	defer stopLoad()
	var wg sync.WaitGroup
	mix := []model.Kind{model.Get, model.Get, model.Get, model.Put, model.Put, model.CASValue,
		model.CASIndex, model.Create, model.Delete}
	for i := 0; i < clients; i++ {
		cl := NewClient(i, r.rec, cfg.Seed+int64(100+i), clientTimeout)
		cl.Members, cl.Keys, cl.Mix = members, r.keys, mix
		wg.Add(1)
		go func() { defer wg.Done(); cl.Run(loadCtx) }()
	}
	watchCtx, stopWatch := context.WithCancel(context.Background())
	defer stopWatch()
	var watchers []*Watcher
	var wwg sync.WaitGroup
	for i := 0; i < 2; i++ {
		w := &Watcher{Name: fmt.Sprintf("w%d", i), Prefix: "/rob/", Members: members, Pin: i}
		if err := w.Start(watchCtx); err != nil {
			return nil, err
		}
		watchers = append(watchers, w)
		wwg.Add(1)
		go func() { defer wwg.Done(); w.Run(watchCtx) }()
	}

	pool, err := faultPool(cfg.Faults)
	if err != nil {
		return nil, err
	}
	var runErr error
	var order []fault
	var windows []faultWindow
	loadFrom := r.rec.now()
	for time.Since(r.began) < cfg.Duration {
		if len(order) == 0 {
			order = append([]fault(nil), pool...)
			r.rnd.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		}
		f := order[0]
		order = order[1:]
		at := time.Since(r.began).Round(time.Millisecond)
		cfg.Logf("%v: fault %s", at, f.name)
		res.Faults = append(res.Faults, fmt.Sprintf("%v %s", at, f.name))
		start := r.rec.now()
		if err := f.inject(r); err != nil {
			runErr = fmt.Errorf("fault %s: %w", f.name, err)
			break
		}
		c.Heal()
		windows = append(windows, faultWindow{Fault: f.name, Start: start, Heal: r.rec.now()})
		if err := r.recover(); err != nil {
			runErr = fmt.Errorf("after fault %s: %w", f.name, err)
			break
		}
	}
	if runErr == nil {
		// The last fault's window runs on for afterHeal like every other.
		time.Sleep(afterHeal)
	}
	loadTo := r.rec.now()
	stopLoad()
	wg.Wait()
	ops := r.rec.Ops()
	res.Availability = measureAvailability(ops, windows, loadFrom, loadTo)
	cfg.Logf("%s", res.Availability)

	// Watchers must reach the last acknowledged write before they stop.
	var maxAcked uint64
	for _, op := range ops {
		if op.Input.IsWrite() && !op.Output.Unknown && op.Output.Err == 0 && op.Output.Mod > maxAcked {
			maxAcked = op.Output.Mod
		}
	}
	if runErr == nil {
		for _, w := range watchers {
			deadline := time.Now().Add(30 * time.Second)
			for w.Next() <= maxAcked && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
			}
			if w.Next() <= maxAcked {
				r.problem("watcher %s stuck before index %d (last acknowledged write %d)", w.Name, w.Next(), maxAcked)
			}
		}
	}
	stopWatch()
	wwg.Wait()

	// No lost writes: kill everything, start again, read every key.
	final := map[string]model.Output{}
	if runErr == nil {
		cfg.Logf("%v: full-cluster restart (SIGKILL all)", time.Since(r.began).Round(time.Millisecond))
		for _, m := range c.Members {
			if err := m.Kill(); err != nil {
				runErr = err
			}
		}
		if runErr == nil {
			runErr = c.StartAll(recoverTimeout)
		}
		if runErr == nil {
			ops, final, runErr = r.finalReads(ops)
		}
	}
	res.Ops = len(ops)
	res.Summary = summarize(ops)

	if runErr == nil {
		check, info := model.Linearizable(ops, 3*time.Minute)
		res.Linearizable = check
		if check != porcupine.Ok {
			r.problem("linearizability: porcupine says %s", check)
		}
		for _, p := range model.CheckIndexes(ops, maxProblems) {
			r.problem("index: %s", p)
		}
		for _, p := range model.LostWrites(ops, final) {
			r.problem("lost write: %s", p)
		}
		for _, w := range watchers {
			for _, p := range model.CheckWatch(w.Result(), ops, maxProblems) {
				r.problem("watch: %s", p)
			}
			// A watcher that saw nothing passes every check above: it must have seen the load.
			if wr := w.Result(); wr.Last() == 0 {
				r.problem("watch: watcher %s never saw an event", w.Name)
			}
		}
		for _, p := range res.Availability.Problems() {
			r.problem("%s", p)
		}
		if len(r.problems) > 0 {
			res.Evidence = r.saveEvidence(ops, &info, watchers)
		}
	} else {
		res.Evidence = r.saveEvidence(ops, nil, watchers)
		runErr = fmt.Errorf("%w\n%s", runErr, c.LogTails(40))
	}
	res.Problems = r.problems
	return res, runErr
}

// faultPool picks the named faults, or all of them.
func faultPool(names []string) ([]fault, error) {
	if len(names) == 0 {
		return allFaults, nil
	}
	var out []fault
	for _, n := range names {
		found := false
		for _, f := range allFaults {
			if f.name == n {
				out, found = append(out, f), true
			}
		}
		if !found {
			return nil, fmt.Errorf("no fault named %q", n)
		}
	}
	return out, nil
}

// recover waits until every member is healthy and one leads.
func (r *run) recover() error {
	for _, m := range r.c.Members {
		if !m.Running() {
			if err := r.c.Launch(m); err != nil {
				return err
			}
		}
	}
	if err := r.c.WaitHealthy(recoverTimeout); err != nil {
		return err
	}
	_, err := r.c.WaitLeader(recoverTimeout)
	return err
}

// finalReads reads every key the clients used, through the leader, and appends the reads to
// the history as operations that begin after everything else ended.
func (r *run) finalReads(ops []model.Op) ([]model.Op, map[string]model.Output, error) {
	leader, err := r.c.WaitLeader(recoverTimeout)
	if err != nil {
		return nil, nil, err
	}
	keys := map[string]bool{}
	for _, op := range ops {
		keys[op.Input.Key] = true
	}
	hc := &http.Client{Timeout: clientTimeout}
	final := map[string]model.Output{}
	for key := range keys {
		deadline := time.Now().Add(recoverTimeout)
		for {
			call := r.rec.now()
			status, a, idx, err := do(context.Background(), hc, http.MethodGet, leader.ClientURL()+"/v2/keys"+key, nil)
			ret := r.rec.now()
			if err == nil && (status == http.StatusOK || a.ErrorCode == model.ErrKeyNotFound) {
				out := model.Output{Err: a.ErrorCode, Index: idx}
				if a.ErrorCode == 0 && a.Node != nil {
					out.Mod = a.Node.ModifiedIndex
					if a.Node.Value != nil {
						out.Value = *a.Node.Value
					}
				}
				final[key] = out
				ops = append(ops, model.Op{Client: clients, Node: leader.Name + " (final)",
					Input: model.Input{Kind: model.Get, Key: key}, Output: out, Call: call, Return: ret})
				break
			}
			if time.Now().After(deadline) {
				return nil, nil, fmt.Errorf("final read of %s: %d %v", key, status, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return ops, final, nil
}

// saveEvidence writes the history, the visualisation (when the check ran: info not nil), the
// watch streams and the problems into the run's evidence directory.
func (r *run) saveEvidence(ops []model.Op, info *porcupine.LinearizationInfo, watchers []*Watcher) string {
	dir := filepath.Join(r.cfg.Dir, "evidence")
	var err error
	if info != nil {
		_, _, err = model.Evidence(dir, ops, *info)
	} else {
		_, err = model.SaveHistory(dir, ops)
	}
	if err != nil {
		r.cfg.Logf("saving evidence: %v", err)
	}
	var ws []model.Watch
	for _, w := range watchers {
		ws = append(ws, w.Result())
	}
	if b, err := json.MarshalIndent(ws, "", " "); err == nil {
		_ = os.WriteFile(filepath.Join(dir, "watches.json"), b, 0o644)
	}
	_ = os.WriteFile(filepath.Join(dir, "problems.txt"), []byte(fmt.Sprintln(r.problems)), 0o644)
	return dir
}

// summarize counts operations by kind and outcome, to show that the load exercised every path.
func summarize(ops []model.Op) string {
	type key struct {
		kind    model.Kind
		outcome string
	}
	counts := map[key]int{}
	for _, op := range ops {
		o := "ok"
		switch {
		case op.Output.Unknown:
			o = "unknown"
		case op.Output.Err != 0:
			o = fmt.Sprint(op.Output.Err)
		}
		counts[key{op.Input.Kind, o}]++
	}
	var b strings.Builder
	for _, k := range []model.Kind{model.Get, model.Put, model.Create, model.CASValue, model.CASIndex, model.Delete} {
		fmt.Fprintf(&b, "%s:", k)
		for _, o := range []string{"ok", "100", "101", "105", "unknown"} {
			if n := counts[key{k, o}]; n > 0 {
				fmt.Fprintf(&b, " %s=%d", o, n)
			}
		}
		b.WriteString("; ")
	}
	return b.String()
}
