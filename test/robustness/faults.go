package robustness

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/cairn-io/cairn/test/robustness/faults"
	"github.com/cairn-io/cairn/test/robustness/model"
)

// fault injects one failure and undoes it; the run then waits for the cluster to recover.
type fault struct {
	name   string
	inject func(r *run) error
}

// electionTimeout is cairnd's built-in election timeout; pauses must outlast it.
const electionTimeout = time.Second

var allFaults = []fault{
	{"kill-leader", func(r *run) error { return r.killRestart(true) }},
	{"kill-follower", func(r *run) error { return r.killRestart(false) }},
	{"pause-leader", func(r *run) error { return r.pause(true) }},
	{"pause-follower", func(r *run) error { return r.pause(false) }},
	{"partition-leader", func(r *run) error { return r.partition(true) }},
	{"partition-follower", func(r *run) error { return r.partition(false) }},
	{"delay-peers", func(r *run) error {
		return r.degrade(faults.Rule{Delay: time.Duration(50+r.rnd.Intn(150)) * time.Millisecond})
	}},
	{"lossy-peers", func(r *run) error { return r.degrade(faults.Rule{Loss: 0.01 + r.rnd.Float64()*0.04}) }},
	{"remove-add-follower", func(r *run) error { return r.removeAdd() }},
	{"ttl-leader-change", func(r *run) error { return r.ttlLeaderChange() }},
}

// target picks the leader or a random follower.
func (r *run) target(leader bool) (*Member, error) {
	l, err := r.c.WaitLeader(recoverTimeout)
	if err != nil {
		return nil, err
	}
	if leader {
		return l, nil
	}
	others := r.c.Others(l)
	return others[r.rnd.Intn(len(others))], nil
}

func (r *run) hold(d time.Duration) {
	r.cfg.Logf("   holding %v", d)
	time.Sleep(d)
}

func (r *run) killRestart(leader bool) error {
	m, err := r.target(leader)
	if err != nil {
		return err
	}
	r.cfg.Logf("   SIGKILL %s", m.Name)
	if err := m.Kill(); err != nil {
		return err
	}
	if leader {
		// Let the survivors elect a leader and take writes before the old one returns.
		if _, err := r.c.WaitLeader(recoverTimeout); err != nil {
			return err
		}
	}
	r.hold(time.Duration(500+r.rnd.Intn(1500)) * time.Millisecond)
	return r.c.Launch(m)
}

func (r *run) pause(leader bool) error {
	m, err := r.target(leader)
	if err != nil {
		return err
	}
	r.cfg.Logf("   SIGSTOP %s", m.Name)
	if err := m.Pause(); err != nil {
		return err
	}
	r.hold(2*electionTimeout + time.Duration(r.rnd.Intn(2000))*time.Millisecond)
	r.cfg.Logf("   SIGCONT %s", m.Name)
	return m.Resume()
}

func (r *run) partition(leader bool) error {
	m, err := r.target(leader)
	if err != nil {
		return err
	}
	r.cfg.Logf("   isolating %s", m.Name)
	r.c.Isolate(m)
	r.hold(3*time.Second + time.Duration(r.rnd.Intn(3000))*time.Millisecond)
	return nil
}

func (r *run) degrade(rule faults.Rule) error {
	r.cfg.Logf("   all peer traffic: delay %v, loss %.3f", rule.Delay, rule.Loss)
	r.c.Degrade(rule)
	r.hold(4*time.Second + time.Duration(r.rnd.Intn(3000))*time.Millisecond)
	return nil
}

func (r *run) removeAdd() error {
	l, err := r.c.WaitLeader(recoverTimeout)
	if err != nil {
		return err
	}
	m, err := r.target(false)
	if err != nil {
		return err
	}
	r.cfg.Logf("   removing %s and adding it back with an empty data dir", m.Name)
	return r.c.RemoveAndReAdd(m, l, recoverTimeout)
}

// ttlLeaderChange writes keys with TTLs through the leader, makes leadership move while they
// live (graceful stop or SIGKILL of the leader), and checks with linearizable reads that no key
// vanished before its TTL and none outlived it by more than ttlSlack.
func (r *run) ttlLeaderChange() error {
	const ttl = 4 * time.Second
	const ttlSlack = 3 * time.Second
	leader, err := r.c.WaitLeader(recoverTimeout)
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: clientTimeout}
	r.ttlSeq++
	key := fmt.Sprintf("/ttl/t%d", r.ttlSeq)
	form := url.Values{"value": {"v"}, "ttl": {fmt.Sprint(int(ttl.Seconds()))}}
	call := time.Now()
	status, _, _, err := do(context.Background(), hc, http.MethodPut, leader.ClientURL()+"/v2/keys"+key, form)
	ret := time.Now()
	if err != nil || status/100 != 2 {
		return fmt.Errorf("ttl write: %d %v", status, err)
	}
	for time.Since(call) < ttl/4 {
		time.Sleep(50 * time.Millisecond)
	}
	if r.rnd.Intn(2) == 0 {
		r.cfg.Logf("   %s ttl %v written; SIGTERM leader %s (hand-over)", key, ttl, leader.Name)
		err = leader.Stop()
	} else {
		r.cfg.Logf("   %s ttl %v written; SIGKILL leader %s", key, ttl, leader.Name)
		err = leader.Kill()
	}
	if err != nil {
		return err
	}
	others := r.c.Others(leader)
	gone := false
	for i := 0; !gone && time.Now().Before(ret.Add(ttl+ttlSlack+5*time.Second)); i++ {
		m := others[i%len(others)]
		rcall := time.Now()
		status, a, _, err := do(context.Background(), hc, http.MethodGet, m.ClientURL()+"/v2/keys"+key, nil)
		rret := time.Now()
		switch {
		case err != nil:
		case a.ErrorCode == model.ErrKeyNotFound:
			gone = true
			if rret.Before(call.Add(ttl)) {
				r.problem("ttl: %s (ttl %v) gone %v after its write began, read on %s", key, ttl, rret.Sub(call), m.Name)
			}
		case status == http.StatusOK && rcall.After(ret.Add(ttl+ttlSlack)):
			r.problem("ttl: %s (ttl %v) still there %v after its write returned, read on %s", key, ttl, rcall.Sub(ret), m.Name)
			gone = true
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !gone {
		return fmt.Errorf("no successful read of %s after the leader change", key)
	}
	return r.c.Launch(leader)
}
