package store

import (
	"bytes"
	"fmt"
	"io"
	"runtime"
	"testing"
	"time"
)

func fill(b *testing.B, s *Store, n int) []string {
	b.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("/bench/d%03d/key%07d", i%1000, i)
		if _, err := s.Set(keys[i], false, "value-of-some-length-0123456789", TTLOptions{}, t0); err != nil {
			b.Fatal(err)
		}
	}
	return keys
}

func BenchmarkGet(b *testing.B) {
	s := New()
	keys := fill(b, s, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Get(keys[i%len(keys)], false, false, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkGetParallel(b *testing.B) {
	s := New()
	keys := fill(b, s, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			s.Get(keys[i%len(keys)], false, false, t0)
			i++
		}
	})
}

func BenchmarkSet(b *testing.B) {
	s := New()
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("/bench/d%03d/key%07d", i%1000, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.Set(keys[i%len(keys)], false, "value-of-some-length-0123456789", TTLOptions{}, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSetWithTTL(b *testing.B) {
	s := New()
	keys := make([]string, 100_000)
	for i := range keys {
		keys[i] = fmt.Sprintf("/bench/d%03d/key%07d", i%1000, i)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ttl := TTLOptions{ExpireTime: t0.Add(time.Duration(i%3600) * time.Second)}
		if _, err := s.Set(keys[i%len(keys)], false, "v", ttl, t0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCompareAndSwap(b *testing.B) {
	s := New()
	mustSet(b, s, "/cas", "0")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := s.CompareAndSwap("/cas", "", s.Index(), "v", TTLOptions{}, t0); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWatchNotify measures a write that wakes one-shot watchers on the
// key and re-registers them, as long-polling clients do.
func BenchmarkWatchNotify(b *testing.B) {
	s := New()
	fill(b, s, 10_000)
	idle := make([]*Watcher, 0, 1000)
	for i := 0; i < 1000; i++ { // idle watchers elsewhere in the tree
		idle = append(idle, mustWatch(b, s, fmt.Sprintf("/idle/k%d", i), false, false, 0))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w1 := mustWatch(b, s, "/bench/d001/key0000001", false, false, 0)
		w2 := mustWatch(b, s, "/bench", true, false, 0)
		mustSet(b, s, "/bench/d001/key0000001", "v")
		<-w1.EventChan()
		<-w2.EventChan()
	}
	b.StopTimer()
	for _, w := range idle {
		w.Remove()
	}
}

// BenchmarkStreamNotify measures fan-out of one write to 100 stream watchers.
func BenchmarkStreamNotify(b *testing.B) {
	s := New()
	ws := make([]*Watcher, 100)
	for i := range ws {
		ws[i] = mustWatch(b, s, "/s", true, true, 0)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		mustSet(b, s, "/s/k", "v")
		for _, w := range ws {
			<-w.EventChan()
		}
	}
}

func BenchmarkSnapshot100k(b *testing.B) {
	s := New()
	fill(b, s, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	var size int64
	for i := 0; i < b.N; i++ {
		n, err := s.Snapshot().WriteTo(io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		size = n
	}
	b.ReportMetric(float64(size), "bytes/snapshot")
}

func BenchmarkRestore100k(b *testing.B) {
	s := New()
	fill(b, s, 100_000)
	var buf bytes.Buffer
	s.Snapshot().WriteTo(&buf)
	data := buf.Bytes()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := New().Restore(bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkHeapPerKey reports the live heap per key for 1M keys: the
// figure that decides the store's share of RSS. Run with -benchtime=1x.
func BenchmarkHeapPerKey(b *testing.B) {
	for i := 0; i < b.N; i++ {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		s := New()
		fill(b, s, 1_000_000)
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "B/key")
		runtime.KeepAlive(s)
	}
}

// BenchmarkIdleWatcherMemory reports the heap held per idle one-shot
// watcher (10k of them on distinct keys). Run with -benchtime=1x.
func BenchmarkIdleWatcherMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		s := New()
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		ws := make([]*Watcher, 10_000)
		for j := range ws {
			ws[j] = mustWatch(b, s, fmt.Sprintf("/w/k%05d", j), false, false, 0)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/10_000, "B/watcher")
		for _, w := range ws {
			w.Remove()
		}
		if s.WatcherCount() != 0 {
			b.Fatal("watchers left")
		}
	}
}
