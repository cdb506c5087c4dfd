//go:build !cairn_unsafe_reads

package server

// unsafeReads is false in every real build; see unsafe_reads_on.go.
const unsafeReads = false
