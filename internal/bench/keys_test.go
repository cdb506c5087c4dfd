package bench

import (
	"strings"
	"testing"
)

func TestKeySpaceSizesAndDistinct(t *testing.T) {
	ks := NewKeySpace("/bench/", 1000, 16)
	seen := map[string]bool{}
	for i := range ks.Len() {
		k := ks.Key(i)
		if !strings.HasPrefix(k, "/bench/k") || len(k)-len("/bench/") != 16 {
			t.Fatalf("key %q: want /bench/ plus 16 bytes", k)
		}
		if seen[k] {
			t.Fatalf("duplicate key %q", k)
		}
		seen[k] = true
	}
	if ks.Key(1000) != ks.Key(0) {
		t.Fatal("Key does not wrap around the key count")
	}
	if ks.Prefix() != "/bench" {
		t.Fatalf("prefix %q", ks.Prefix())
	}
}

func TestKeySpaceGrowsWhenSizeTooSmall(t *testing.T) {
	ks := NewKeySpace("p", 1000, 2)
	if ks.Key(999) != "/p/k999" || ks.Key(5) != "/p/k005" {
		t.Fatalf("keys %q %q", ks.Key(5), ks.Key(999))
	}
	root := NewKeySpace("/", 3, 1)
	if root.Key(2) != "/k2" || root.Prefix() != "" {
		t.Fatalf("root key %q prefix %q", root.Key(2), root.Prefix())
	}
}

func TestValueIsFormSafe(t *testing.T) {
	v := Value(newRand(1), 4096)
	if len(v) != 4096 {
		t.Fatalf("len %d", len(v))
	}
	for _, c := range v {
		if !strings.ContainsRune(alnum, rune(c)) {
			t.Fatalf("byte %q needs escaping in a form body", c)
		}
	}
}
