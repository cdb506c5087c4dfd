package store

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

func sameAsEncodingJSON(t *testing.T, e *Event) {
	t.Helper()
	want, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.AppendJSON(nil); !bytes.Equal(got, want) {
		t.Fatalf("AppendJSON:\n got %s\nwant %s", got, want)
	}
}

func TestEventJSONMatchesEncodingJSON(t *testing.T) {
	v, empty, odd := "hello", "", "a\"b\\c\x00\x1f\b\f\n\r\t<>&\u2028\u2029é\xff\xc3 😀 \x7f"
	exp := time.Date(2026, 11, 22, 6, 0, 0, 120000000, time.UTC)
	exp2 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))
	for _, e := range []*Event{
		{Action: Get},
		{Action: Set, Node: &NodeExtern{Key: "/a", Value: &v, ModifiedIndex: 7, CreatedIndex: 7}},
		{Action: Set, Node: &NodeExtern{Key: "/a", Value: &empty, ModifiedIndex: 8, CreatedIndex: 7},
			PrevNode: &NodeExtern{Key: "/a", Value: &v, ModifiedIndex: 7, CreatedIndex: 7}},
		{Action: CompareAndSwap, Node: &NodeExtern{Key: "/o" + odd, Value: &odd, Expiration: &exp, TTL: 5, ModifiedIndex: 1 << 62, CreatedIndex: 3}},
		{Action: Get, Node: &NodeExtern{Key: "/d", Dir: true, Expiration: &exp2, TTL: -1, Nodes: []*NodeExtern{
			{Key: "/d/x", Value: &v, ModifiedIndex: 2, CreatedIndex: 2},
			{Key: "/d/y", Dir: true, Nodes: []*NodeExtern{{Key: "/d/y/z", Value: &empty, ModifiedIndex: 3, CreatedIndex: 3}}},
			nil,
		}}},
		{Action: Get, Node: &NodeExtern{Dir: true}},
		{Action: Expire, Node: &NodeExtern{Key: "/e", ModifiedIndex: 9, CreatedIndex: 1}, PrevNode: &NodeExtern{Key: "/e", Value: &v}},
	} {
		sameAsEncodingJSON(t, e)
	}
}

func FuzzEventJSON(f *testing.F) {
	f.Add("/k", "v", true, int64(3), uint64(4), uint64(2), "\u2028<&>\xff")
	f.Fuzz(func(t *testing.T, key, value string, dir bool, ttl int64, mod, created uint64, prev string) {
		e := &Event{Action: value, Node: &NodeExtern{Key: key, Value: &value, Dir: dir, TTL: ttl,
			ModifiedIndex: mod, CreatedIndex: created}}
		if prev != "" {
			e.PrevNode = &NodeExtern{Key: prev, Value: &prev, Nodes: []*NodeExtern{{Key: key}}}
		}
		sameAsEncodingJSON(t, e)
	})
}

func BenchmarkEventJSON(b *testing.B) {
	v := string(bytes.Repeat([]byte("v"), 256))
	e := &Event{Action: Get, Node: &NodeExtern{Key: "/bench/k000123", Value: &v, ModifiedIndex: 123456, CreatedIndex: 120000}}
	b.Run("AppendJSON", func(b *testing.B) {
		b.ReportAllocs()
		var buf []byte
		for i := 0; i < b.N; i++ {
			buf = e.AppendJSON(buf[:0])
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		var buf bytes.Buffer
		for i := 0; i < b.N; i++ {
			buf.Reset()
			_ = json.NewEncoder(&buf).Encode(e)
		}
	})
}
