package model

import (
	"strings"
	"testing"
)

func watchHistory() []Op {
	return []Op{
		op(0, 0, 10, put("w/a", "1"), okAt(5)),
		op(0, 20, 30, put("w/b", "2"), okAt(6)),
		op(1, 25, Pending, put("w/a", "p"), Output{Unknown: true}),
		op(0, 40, 50, Input{Kind: Delete, Key: "w/b"}, okAt(9)),
	}
}

func TestWatchComplete(t *testing.T) {
	w := Watch{Name: "w", Prefix: "w/", Segments: []WatchSegment{{From: 1, Events: []WatchEvent{
		{"set", "w/a", "1", 5}, {"set", "w/b", "2", 6}, {"set", "w/a", "p", 7}, {"delete", "w/b", "", 9},
	}}}}
	if p := CheckWatch(w, watchHistory(), 10); len(p) != 0 {
		t.Fatal(p)
	}
}

func TestWatchProblems(t *testing.T) {
	cases := map[string][]WatchSegment{
		"missed":           {{From: 1, Events: []WatchEvent{{"set", "w/a", "1", 5}, {"delete", "w/b", "", 9}}}},
		"out of order":     {{From: 1, Events: []WatchEvent{{"set", "w/b", "2", 6}, {"set", "w/a", "1", 5}}}},
		"out of order ":    {{From: 1, Events: []WatchEvent{{"set", "w/a", "1", 5}, {"set", "w/a", "1", 5}}}},
		"does not match":   {{From: 1, Events: []WatchEvent{{"set", "w/a", "2", 5}}}},
		"matches no write": {{From: 1, Events: []WatchEvent{{"set", "w/a", "1", 5}, {"set", "w/b", "2", 6}, {"set", "w/a", "zz", 8}}}},
	}
	for want, segs := range cases {
		p := CheckWatch(Watch{Name: "w", Prefix: "w/", Segments: segs}, watchHistory(), 10)
		if len(p) == 0 || !strings.Contains(strings.Join(p, "\n"), strings.TrimSpace(want)) {
			t.Errorf("%s: got %v", want, p)
		}
	}
}

func TestWatchGapAfterClearedIndexIsAllowed(t *testing.T) {
	w := Watch{Name: "w", Prefix: "w/", Segments: []WatchSegment{
		{From: 1, Events: []WatchEvent{{"set", "w/a", "1", 5}}},
		{From: 8, Events: []WatchEvent{{"delete", "w/b", "", 9}}},
	}}
	if p := CheckWatch(w, watchHistory(), 10); len(p) != 0 {
		t.Fatal(p)
	}
}
