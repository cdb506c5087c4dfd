package quorum

import "testing"

func TestReplayCache(t *testing.T) {
	c := newReplayCache(2)
	a, b, d := salt{1}, salt{2}, salt{3}

	if v := c.check(a, 100, 0); v != saltFresh {
		t.Fatalf("first a: %v", v)
	}
	if v := c.check(a, 100, 50); v != saltReplayed {
		t.Fatalf("a again within its window: %v, want replayed", v)
	}
	if v := c.check(b, 300, 50); v != saltFresh {
		t.Fatalf("first b: %v", v)
	}
	if v := c.check(d, 300, 60); v != cacheFull {
		t.Fatalf("third salt in a cache of 2: %v, want full", v)
	}
	// After a's expiry it is evicted, making room; b (expiring later) stays.
	if v := c.check(d, 300, 101); v != saltFresh {
		t.Fatalf("d after a expired: %v, want fresh", v)
	}
	if c.len() != 2 {
		t.Fatalf("len %d, want 2", c.len())
	}
	if v := c.check(b, 300, 200); v != saltReplayed {
		t.Fatalf("b evicted before its expiry: %v", v)
	}
}
