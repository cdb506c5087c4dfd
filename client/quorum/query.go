package quorum

import (
	"context"
	"errors"
	"fmt"
	"time"
)

var (
	// ErrNotEnoughReplies means fewer than NeededReplies members answered in time, so no
	// answer can be trusted.
	ErrNotEnoughReplies = errors.New("quorum: not enough replies")
	// ErrIncoherent means members at the same index gave different answers to a key
	// query, which honest members cannot do: one of them is lying or broken.
	ErrIncoherent = errors.New("quorum: members at the same index disagree")
	// ErrStatus means the chosen reply's status is not StatusOK; its Answer says why.
	ErrStatus = errors.New("quorum: member answered with an error")
)

// Query sends req to the default coverage of peers, waits until NeededReplies of them have
// replied, and returns the reply with the highest index. It waits at most until ctx ends
// or the request expires, and then fails with ErrNotEnoughReplies rather than trust fewer
// members. Replies also reach the client's callback.
//
// For QueryKey, replies at the highest index must agree (the answer is a function of the
// applied index), else ErrIncoherent. Leader and role answers are not part of the
// replicated state, so members at one index may honestly differ; the first reply at the
// highest index wins.
func (c *Client) Query(ctx context.Context, req Request) (Reply, error) {
	salt, err := c.SendRequest(req, 0, false)
	if err != nil {
		return Reply{}, err
	}
	defer c.forget(salt)

	c.mu.Lock()
	p := c.requests[salt]
	c.mu.Unlock()
	if p == nil {
		return Reply{}, fmt.Errorf("%w: request expired before any reply", ErrNotEnoughReplies)
	}
	deadline := p.expiry
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}

	for {
		c.mu.Lock()
		sent, received := len(p.replied), p.received
		replies := append([]Reply(nil), p.replies...)
		c.mu.Unlock()

		needed := NeededReplies(sent)
		if received >= needed {
			return pickReply(req, replies)
		}
		left := time.Until(deadline)
		if ctx.Err() != nil || left <= 0 {
			cause := "timed out"
			if ctx.Err() != nil {
				cause = ctx.Err().Error()
			}
			return Reply{}, fmt.Errorf("%w: %d of %d members asked replied, %d needed (%s)",
				ErrNotEnoughReplies, received, sent, needed, cause)
		}
		c.ReceiveReply(min(left, readSlice))
	}
}

func pickReply(req Request, replies []Reply) (Reply, error) {
	best := replies[0]
	for _, r := range replies[1:] {
		if r.Index > best.Index {
			best = r
		}
	}
	if req.Type == QueryKey {
		for _, r := range replies {
			if r.Index == best.Index && (r.Status != best.Status || r.Answer != best.Answer) {
				return Reply{}, fmt.Errorf("%w: %s and %s at index %d", ErrIncoherent, best.Node, r.Node, best.Index)
			}
		}
	}
	if best.Status != StatusOK {
		return best, fmt.Errorf("%w: %s (%s): %s", ErrStatus, best.Node, best.Status, best.Answer)
	}
	return best, nil
}
