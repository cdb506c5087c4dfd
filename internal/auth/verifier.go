package auth

import (
	"container/list"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"hash"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/singleflight"
)

// Refusals of a credential check. httpapi answers every one of them with the
// same 401, so that a client learns nothing about which part was wrong.
var (
	ErrBadCredentials = errors.New("wrong user name or password")
	ErrTooManyTries   = errors.New("too many failed logins from this source")
)

// VerifierConfig bounds the verifier's memory and its patience with guesses.
type VerifierConfig struct {
	// CacheSize is how many verified credentials are remembered (LRU).
	CacheSize int
	// FailureBurst failed checks a source may make at once; after that it
	// gets FailureRate more per second, and is refused without a hash check
	// in between.
	FailureBurst int
	FailureRate  float64
	// Sources is how many sources' failure counts are kept.
	Sources int
	// PasswordCost is the bcrypt cost passwords are stored at (PasswordCost when 0); an
	// unknown user is checked against a hash of that cost, so that a wrong user name takes
	// as long as a wrong password.
	PasswordCost int
}

func (c *VerifierConfig) defaults() {
	if c.CacheSize <= 0 {
		c.CacheSize = 4096
	}
	if c.FailureBurst <= 0 {
		c.FailureBurst = 10
	}
	if c.FailureRate <= 0 {
		c.FailureRate = 1
	}
	if c.Sources <= 0 {
		c.Sources = 10000
	}
	if c.PasswordCost == 0 {
		c.PasswordCost = PasswordCost
	}
}

// Verifier checks user names and passwords against a State. A pair that
// passed once is remembered under a keyed hash (never the password itself),
// together with the user's revision and hash, so its repeats cost a map
// lookup instead of bcrypt; a changed password or a deleted user no longer
// matches and is checked afresh. Wrong passwords always cost a hash and are
// limited per source, so guessing stays slow.
type Verifier struct {
	cfg   VerifierConfig
	key   [32]byte
	dummy string // a hash of nothing anyone knows, at the configured cost

	hashes sync.Pool // of HMAC-SHA256 states keyed with key, reused across checks
	// flight makes concurrent checks of the same credentials (a client opening many
	// connections at once) share one bcrypt comparison.
	flight singleflight.Group
	check  func(hash, password string) bool // checkPassword; tests count its calls

	// mu guards the cache and the failure counts. A cache hit takes only the read lock and
	// marks its entry used; eviction gives used entries a second chance (CLOCK), so the hot
	// path never reorders the list.
	mu    sync.RWMutex
	lru   *list.List // of *verified, newest first
	byKey map[[32]byte]*list.Element
	fails map[string]*bucket
	hits  atomic.Uint64
	miss  atomic.Uint64
}

type verified struct {
	digest   [32]byte
	user     string
	hash     string
	revision uint64
	used     atomic.Bool // hit since eviction last passed it
}

type bucket struct {
	tokens float64
	last   time.Time
}

// NewVerifier makes a verifier with a fresh random key for its cache.
func NewVerifier(cfg VerifierConfig) *Verifier {
	cfg.defaults()
	v := &Verifier{cfg: cfg, lru: list.New(), byKey: map[[32]byte]*list.Element{}, fails: map[string]*bucket{}}
	if _, err := rand.Read(v.key[:]); err != nil {
		panic(err)
	}
	v.hashes.New = func() any { return hmac.New(sha256.New, v.key[:]) }
	v.check = checkPassword
	dummy, err := hashAtCost(string(v.key[:16]), cfg.PasswordCost)
	if err != nil {
		panic(err) // only an invalid cost fails, and defaults() gives a valid one
	}
	v.dummy = dummy
	return v
}

// Check returns the user whose name and password these are. source is who
// asks (the client's IP) and now the time, for the failure limit.
func (v *Verifier) Check(st *State, name, password, source string, now time.Time) (User, error) {
	u, exists := st.User(name)
	d := v.digest(name, password)
	v.mu.RLock()
	if el, ok := v.byKey[d]; ok {
		e := el.Value.(*verified)
		if exists && e.user == name && e.hash == u.Hash && e.revision == u.Revision {
			e.used.Store(true)
			v.mu.RUnlock()
			v.hits.Add(1)
			return u, nil
		}
	}
	v.mu.RUnlock()
	v.miss.Add(1)
	v.mu.Lock()
	if el, ok := v.byKey[d]; ok {
		// Stale: the password changed or the user went away since it was verified.
		v.lru.Remove(el)
		delete(v.byKey, d)
	}
	if !v.allowLocked(source, now) {
		v.mu.Unlock()
		return User{}, ErrTooManyTries
	}
	v.mu.Unlock()

	key := string(d[:]) + "\x00" + u.Hash + "\x00" + strconv.FormatUint(u.Revision, 10)
	res, _, _ := v.flight.Do(key, func() (any, error) {
		if exists {
			return v.check(u.Hash, password), nil
		}
		v.check(v.dummy, password)
		return false, nil
	})
	ok := res.(bool)
	v.mu.Lock()
	defer v.mu.Unlock()
	if !ok {
		v.failLocked(source, now)
		return User{}, ErrBadCredentials
	}
	v.rememberLocked(&verified{digest: d, user: name, hash: u.Hash, revision: u.Revision})
	return u, nil
}

// Stats returns the cache's hits and misses, for metrics.
func (v *Verifier) Stats() (hits, misses uint64) {
	return v.hits.Load(), v.miss.Load()
}

func (v *Verifier) digest(name, password string) [32]byte {
	m := v.hashes.Get().(hash.Hash)
	m.Reset()
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var d [32]byte
	m.Sum(d[:0])
	v.hashes.Put(m)
	return d
}

func (v *Verifier) rememberLocked(e *verified) {
	if el, ok := v.byKey[e.digest]; ok {
		el.Value = e
		v.lru.MoveToFront(el)
		return
	}
	v.byKey[e.digest] = v.lru.PushFront(e)
	for v.lru.Len() > v.cfg.CacheSize {
		old := v.lru.Back()
		if o := old.Value.(*verified); o.used.Swap(false) && o != e {
			v.lru.MoveToFront(old) // used since last passed: a second chance
			continue
		}
		v.lru.Remove(old)
		delete(v.byKey, old.Value.(*verified).digest)
	}
}

// allowLocked reports whether source may have another slow check: it has a
// failure token left, refilled at FailureRate per second up to FailureBurst.
func (v *Verifier) allowLocked(source string, now time.Time) bool {
	b, ok := v.fails[source]
	if !ok {
		return true
	}
	v.refill(b, now)
	return b.tokens >= 1
}

func (v *Verifier) failLocked(source string, now time.Time) {
	b, ok := v.fails[source]
	if !ok {
		if len(v.fails) >= v.cfg.Sources {
			v.pruneLocked(now)
		}
		b = &bucket{tokens: float64(v.cfg.FailureBurst), last: now}
		v.fails[source] = b
	}
	v.refill(b, now)
	b.tokens--
	if b.tokens < 0 {
		b.tokens = 0
	}
}

func (v *Verifier) refill(b *bucket, now time.Time) {
	if el := now.Sub(b.last).Seconds(); el > 0 {
		b.tokens += el * v.cfg.FailureRate
		b.last = now
	}
	if max := float64(v.cfg.FailureBurst); b.tokens > max {
		b.tokens = max
	}
}

// pruneLocked forgets sources whose bucket is full again, and if that frees
// nothing, every source: a flood of sources must not grow memory.
func (v *Verifier) pruneLocked(now time.Time) {
	for s, b := range v.fails {
		v.refill(b, now)
		if b.tokens >= float64(v.cfg.FailureBurst) {
			delete(v.fails, s)
		}
	}
	if len(v.fails) >= v.cfg.Sources {
		clear(v.fails)
	}
}
