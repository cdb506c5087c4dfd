//go:build cairn_unsafe_reads

package server

// unsafeReads breaks Cairn on purpose: built with -tags cairn_unsafe_reads, linearizable reads
// are served from local state without a read index, so that the robustness suite can show
// that its checker catches stale reads. Never ship a binary built with this tag.
const unsafeReads = true
