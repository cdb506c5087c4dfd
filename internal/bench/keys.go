package bench

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// KeySpace is the fixed set of key paths a run touches, built once so the hot
// loop never formats a key.
type KeySpace struct {
	keys []string
}

// NewKeySpace builds count keys under prefix. Each key's last element is
// exactly size bytes ("k" then the zero-padded index) unless the index needs
// more digits, in which case it grows to fit: keys are always distinct.
func NewKeySpace(prefix string, count, size int) *KeySpace {
	prefix = "/" + strings.Trim(prefix, "/")
	if prefix == "/" {
		prefix = ""
	}
	digits := len(strconv.Itoa(max(count-1, 0)))
	width := max(size-1, digits)
	ks := &KeySpace{keys: make([]string, count)}
	buf := make([]byte, 0, len(prefix)+2+width)
	for i := range ks.keys {
		buf = append(buf[:0], prefix...)
		buf = append(buf, '/', 'k')
		n := strconv.Itoa(i)
		for j := len(n); j < width; j++ {
			buf = append(buf, '0')
		}
		buf = append(buf, n...)
		ks.keys[i] = string(buf)
	}
	return ks
}

// Len is the number of keys.
func (k *KeySpace) Len() int { return len(k.keys) }

// Key returns key i modulo the key count.
func (k *KeySpace) Key(i int) string { return k.keys[i%len(k.keys)] }

// Random picks a key uniformly with the worker's own generator (a shared one
// would be a lock every operation).
func (k *KeySpace) Random(r *rand.Rand) string { return k.keys[r.IntN(len(k.keys))] }

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// Value returns size random alphanumeric bytes: they need no form escaping, so
// a request body is "value=" plus these bytes verbatim.
func Value(r *rand.Rand, size int) []byte {
	v := make([]byte, size)
	for i := range v {
		v[i] = alnum[r.IntN(len(alnum))]
	}
	return v
}

// Prefix is the directory all keys live under ("" for the root).
func (k *KeySpace) Prefix() string {
	key := k.keys[0]
	return key[:strings.LastIndexByte(key, '/')]
}

func newRand(seed uint64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), seed))
}
