package quorum

import (
	"testing"
	"time"

	wire "github.com/cairn-io/cairn/api/quorum"
)

// FuzzHandle drives the server's whole packet path: arbitrary bytes, and validly signed
// requests with arbitrary fields. Neither may panic, and the replay cache must stay within
// its bound. (The codec itself is fuzzed in api/quorum.)
func FuzzHandle(f *testing.F) {
	f.Add([]byte("CRNQ\x01\x01"), int64(0), byte(1), "")
	f.Add([]byte{}, int64(0), byte(2), "/a")
	f.Add(make([]byte, 5000), int64(-1), byte(5), "n1")
	f.Add([]byte("garbage"), int64(1<<62), byte(200), "\xff\x00")

	src := newMemSource("n1", 3)
	src.set("/a", "v", 2)
	src.members = []Member{{Name: "n1", Role: "leader"}}
	now := time.Unix(1_000_000, 0)
	s, err := New(Config{Key: testKey, ListenAddr: "127.0.0.1:0", ReplayCacheSize: 64, Now: func() time.Time { return now }}, src)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	codec, _ := wire.NewCodec(testKey)
	// Replies go to the server's own socket; nothing reads them, and the kernel drops them
	// once its buffer is full.
	to := s.Addr()

	f.Fuzz(func(t *testing.T, raw []byte, offset int64, typ byte, query string) {
		s.handle(raw, to)
		req := wire.Request{Timestamp: now.UnixNano() + offset%int64(2*DefaultWindow), Type: wire.QueryType(typ), Query: query}
		copy(req.Salt[:], raw)
		if pkt, err := codec.AppendRequest(nil, &req); err == nil {
			s.handle(pkt, to)
		}
		if n := s.replay.len(); n > 64 {
			t.Fatalf("replay cache holds %d salts, bound is 64", n)
		}
	})
}
