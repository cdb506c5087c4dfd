package quorum

import "testing"

func TestNeededReplies(t *testing.T) {
	want := map[int]int{0: 0, 1: 1, 2: 2, 3: 2, 4: 3, 5: 3, 6: 4, 7: 4, 8: 5, 9: 5, 10: 6}
	for peers, n := range want {
		if got := NeededReplies(peers); got != n {
			t.Errorf("NeededReplies(%d) = %d, want %d", peers, got, n)
		}
	}
	for peers := 3; peers < 100; peers++ {
		if n := NeededReplies(peers); 2*n <= peers {
			t.Errorf("NeededReplies(%d) = %d is not a majority", peers, n)
		}
		if NeededReplies(peers+1) < NeededReplies(peers) {
			t.Errorf("NeededReplies decreases from %d to %d peers", peers, peers+1)
		}
	}
}
