package names

import (
	"maps"
	"testing"
)

func TestLayoutWithoutRacks(t *testing.T) {
	got := Layout("prod", nil, 3)
	for i, s := range got {
		if s.Pod != Pod("prod", i) || s.StatefulSet != "prod" || s.Ordinal != i || s.Index != i || s.Rack != 0 {
			t.Fatalf("slot %d: %+v", i, s)
		}
	}
	if r := Replicas("prod", nil, got); !maps.Equal(r, map[string]int32{"prod": 3}) {
		t.Fatal(r)
	}
}

func TestLayoutSpreadsOverRacks(t *testing.T) {
	got := Layout("prod", []int32{1, 2}, 5)
	want := []string{"prod-1-0", "prod-2-0", "prod-1-1", "prod-2-1", "prod-1-2"}
	for i, s := range got {
		if s.Pod != want[i] {
			t.Fatalf("slot %d is %s, want %s", i, s.Pod, want[i])
		}
	}
	if r := Replicas("prod", []int32{1, 2, 3}, got); !maps.Equal(r, map[string]int32{"prod-1": 3, "prod-2": 2, "prod-3": 0}) {
		t.Fatal(r)
	}
	// Shrinking by one takes the highest ordinal of one StatefulSet.
	if last := got[len(got)-1]; last.StatefulSet != "prod-1" || last.Ordinal != 2 {
		t.Fatalf("highest slot %+v", last)
	}
}
