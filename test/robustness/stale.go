package robustness

import (
	"context"
	"fmt"
	"math/rand"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"github.com/cairn-io/cairn/test/robustness/model"
)

// StaleReads is the scenario that must expose a server serving reads without a read index:
// readers stay on the leader while it is isolated, writers stay on the other members, which
// elect a new leader and keep writing. A correct server refuses the isolated node's reads; a
// broken one answers them from its frozen state, and the history cannot be linearized.
func StaleReads(cfg Config, isolation time.Duration) (porcupine.CheckResult, []string, string, error) {
	c, err := NewCluster(cfg.Bin, cfg.Dir, 3, cfg.Seed, memberFlags)
	if err != nil {
		return "", nil, "", err
	}
	defer c.Close()
	if err := c.StartAll(recoverTimeout); err != nil {
		return "", nil, "", fmt.Errorf("start: %w\n%s", err, c.LogTails(30))
	}
	leader, err := c.WaitLeader(recoverTimeout)
	if err != nil {
		return "", nil, "", err
	}
	li := 0
	for i, m := range c.Members {
		if m == leader {
			li = i
		}
	}
	r := &run{cfg: cfg, c: c, rnd: rand.New(rand.NewSource(cfg.Seed)), rec: NewRecorder(), began: time.Now()}
	keys := func() []string { return []string{"/rob/s-k0", "/rob/s-k1"} }
	members := func() []*Member { return c.Members }
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for i := 0; i < 4; i++ {
		cl := NewClient(i, r.rec, cfg.Seed+int64(i), clientTimeout)
		cl.Members, cl.Keys, cl.Sticky = members, keys, true
		if i < 2 {
			cl.Mix, cl.Pin = []model.Kind{model.Get}, li
		} else {
			cl.Mix, cl.Pin = []model.Kind{model.Put, model.CASValue}, li+i-1
		}
		wg.Add(1)
		go func() { defer wg.Done(); cl.Run(ctx) }()
	}
	// A cluster that completes no operations would leave nothing to check: that fails the run.
	waitOps := func(n int) error {
		deadline := time.Now().Add(10 * time.Second)
		for len(r.rec.Ops()) < n {
			if time.Now().After(deadline) {
				return fmt.Errorf("only %d of %d operations recorded after 10s\n%s", len(r.rec.Ops()), n, c.LogTails(30))
			}
			time.Sleep(50 * time.Millisecond)
		}
		return nil
	}
	if err := waitOps(20); err != nil {
		return "", nil, "", err
	}
	cfg.Logf("isolating leader %s for %v; readers stay on it, writers on the others", leader.Name, isolation)
	c.Isolate(leader)
	time.Sleep(isolation)
	c.Heal()
	if err := waitOps(len(r.rec.Ops()) + 20); err != nil {
		return "", nil, "", err
	}
	stop()
	wg.Wait()
	ops := r.rec.Ops()
	check, info := model.Linearizable(ops, time.Minute)
	problems := model.CheckIndexes(ops, maxProblems)
	dir := r.saveEvidence(ops, &info, nil)
	return check, problems, dir, nil
}
