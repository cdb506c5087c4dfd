package quorum

import (
	"log/slog"
	"sync"
)

// FilterCallback wraps a callback and passes up only answers that change what the caller
// knows: the first reply for a salt, then only replies with a higher index and a different
// answer. It also records, per salt, whether every reply was coherent: a reply with the
// same index as the best one so far but a different answer marks the salt incoherent and
// logs a warning. Expiry upcalls always pass up, after which the salt's state is dropped,
// so read Coherent for a salt before or inside its expiry upcall.
type FilterCallback struct {
	next   func(Upcall)
	logger *slog.Logger

	mu       sync.Mutex
	best     map[string]Reply
	coherent map[string]bool
}

// NewFilterCallback returns a filter in front of next. Use its Handle method as the
// client's callback. A nil logger discards warnings.
func NewFilterCallback(next func(Upcall), logger *slog.Logger) *FilterCallback {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &FilterCallback{next: next, logger: logger, best: map[string]Reply{}, coherent: map[string]bool{}}
}

// Handle is the callback to give NewClient.
func (f *FilterCallback) Handle(u Upcall) {
	if u.Kind != UpcallReply {
		f.next(u)
		f.mu.Lock()
		delete(f.best, u.Salt)
		delete(f.coherent, u.Salt)
		f.mu.Unlock()
		return
	}
	if f.admit(u) {
		f.next(u)
	}
}

func (f *FilterCallback) admit(u Upcall) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := u.Reply
	prev, seen := f.best[u.Salt]
	if !seen {
		f.best[u.Salt] = r
		f.coherent[u.Salt] = true
		return true
	}
	same := r.Status == prev.Status && r.Answer == prev.Answer
	switch {
	case r.Index > prev.Index:
		f.best[u.Salt] = r
		return !same
	case r.Index == prev.Index && !same:
		f.coherent[u.Salt] = false
		f.logger.Warn("quorum: incoherent answers at the same index",
			"salt", u.Salt, "index", r.Index, "node", r.Node, "other_node", prev.Node, "server", u.Server)
	}
	return false
}

// Coherent reports whether every reply seen so far for salt agreed with the best one at
// its index; known is false for a salt with no replies (or already expired).
func (f *FilterCallback) Coherent(salt string) (coherent, known bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	coherent, known = f.coherent[salt]
	return coherent, known
}
