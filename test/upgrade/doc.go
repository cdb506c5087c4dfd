// Package upgrade holds the rolling-upgrade test: a three-member cluster of real cairnd
// processes on a baseline build, named by commit and built from the repository's history
// (scripts/baseline.sh), replaced member by member by the current build while clients write.
// Half way, it checks the cluster version: commands the baseline cannot apply (auth's) are
// refused, and a baseline member catches up from the upgraded leader's snapshot.
// It owns no server code and never changes a data directory by hand: members meet their old
// data exactly as an operator's rolling restart leaves it.
package upgrade
