package client

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"
)

// answeredBadly records a 5xx answer: the node is reachable but failing, which only its
// breaker can route around.
func (n *node) answeredBadly(s SystemSettings) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.countErrLocked(time.Now(), s)
}

// countErrLocked opens the breaker when the errors within the window exceed MaxErrorRate.
// The breaker stays open for one window from the error that tripped it, then starts counting
// afresh: a sliding window, so that errors straddling a window boundary are not forgotten.
func (n *node) countErrLocked(now time.Time, s SystemSettings) {
	if s.MaxErrorRate <= 0 {
		return // the breaker is disabled
	}
	keep := n.errAt[:0]
	for _, t := range n.errAt {
		if now.Sub(t) < s.ErrorRateWindow {
			keep = append(keep, t)
		}
	}
	n.errAt = append(keep, now)
	if len(n.errAt) > s.MaxErrorRate {
		n.openUntil = now.Add(s.ErrorRateWindow)
		n.errAt = n.errAt[:0]
	}
}

// breakerOpen reports whether the node's breaker is open now.
func (n *node) breakerOpen() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	return time.Now().Before(n.openUntil)
}

// nodeFault reports whether a failed exchange counts against the node: a transport error or
// a timeout does, the caller cancelling or the cluster closing (ctx cancelled) does not.
func nodeFault(ctx context.Context) bool {
	return !errors.Is(ctx.Err(), context.Canceled)
}

// circuitOpenError names the nodes whose breakers are open, by name and address only: never
// what the request was about.
func circuitOpenError(open []*node, s SystemSettings) error {
	now := time.Now()
	names := make([]string, 0, len(open))
	var first time.Duration
	for i, n := range open {
		n.mu.Lock()
		left := n.openUntil.Sub(now)
		n.mu.Unlock()
		if i == 0 || left < first {
			first = left
		}
		names = append(names, n.name+" at "+n.addr)
	}
	sort.Strings(names)
	return fmt.Errorf("%w: every node that could serve the request failed more than %d times within %v (MaxErrorRate, ErrorRateWindow): %s; the first closes in %v",
		ErrCircuitOpen, s.MaxErrorRate, s.ErrorRateWindow, strings.Join(names, ", "), max(first, 0).Round(time.Millisecond))
}
