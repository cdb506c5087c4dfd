package quorum

import (
	"slices"
	"strings"
)

// sortedMembers orders members by name and gives nil URL lists a stable form, so members
// with the same membership encode the same bytes and clients can compare answers.
func sortedMembers(ms []Member) []Member {
	out := make([]Member, len(ms))
	for i, m := range ms {
		if m.PeerURLs == nil {
			m.PeerURLs = []string{}
		}
		if m.ClientURLs == nil {
			m.ClientURLs = []string{}
		}
		out[i] = m
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	return out
}
