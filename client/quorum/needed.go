package quorum

// NeededReplies is the minimum safe number of replies out of peers asked: all of them below
// three, all but one below five, and a strict majority from five on. The count never
// decreases as peers grows (1→1, 2→2, 3→2, 4→3, 5→3, 6→4, 7→4), and from three peers on it
// is always a majority, so two answer sets that each reach it share at least one member.
// (The seed's printed sequence, with 4→2 and 6→3, contradicts its own rule and would accept
// a minority; the rule wins.)
func NeededReplies(peers int) int {
	switch {
	case peers <= 0:
		return 0
	case peers < 3:
		return peers
	case peers < 5:
		return peers - 1
	default:
		return peers/2 + 1
	}
}
