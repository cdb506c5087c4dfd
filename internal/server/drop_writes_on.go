//go:build cairn_drop_writes

package server

import (
	"context"
	"math/rand/v2"
	"time"
)

// dropWrite breaks Cairn on purpose: built with -tags cairn_drop_writes, nine proposals in ten
// hang until the request times out (2 s at most) and fail as timeouts, so that the robustness
// suite can show that its availability floors catch a cluster that answers but gets almost no
// write through; such a history is still linearizable. Never ship a binary built with this tag.
func dropWrite(ctx context.Context) error {
	if rand.IntN(10) == 0 {
		return nil
	}
	select {
	case <-ctx.Done():
	case <-time.After(2 * time.Second):
	}
	return context.DeadlineExceeded
}
