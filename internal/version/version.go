// Package version owns Cairn's own version and commit: what `cairnd --version`, `cairnctl
// version` and the "cairnserver" field of /version report. The Makefile sets both with
// -ldflags; a binary built otherwise (go build, go install) falls back to what the Go toolchain
// recorded in it. It must never report etcd's version: that is api.ServerVersion's, for clients
// that gate features on it.
package version

import (
	"runtime/debug"
	"sync"
)

// Set at link time by the Makefile:
//
//	-X github.com/cairn-io/cairn/internal/version.version=v0.3.0
//	-X github.com/cairn-io/cairn/internal/version.commit=<full hash>
var (
	version string
	commit  string
)

const unknown = "unknown"

var resolved = sync.OnceValues(func() (string, string) {
	v, c := version, commit
	if bi, ok := debug.ReadBuildInfo(); ok {
		fv, fc := fromBuildInfo(bi)
		if v == "" {
			v = fv
		}
		if c == "" {
			c = fc
		}
	}
	if v == "" {
		v = unknown
	}
	if c == "" {
		c = unknown
	}
	return v, c
})

// Version is Cairn's version, e.g. "v0.3.0", or "devel" for a build from a work tree.
func Version() string { v, _ := resolved(); return v }

// Commit is the commit Cairn was built from, with "-dirty" when the work tree had changes.
func Commit() string { _, c := resolved(); return c }

// String is the one-line form the commands print.
func String() string { v, c := resolved(); return v + " (commit " + c + ")" }

// fromBuildInfo reads what the Go toolchain stamped: the module version when built with go
// install from a tagged module, the VCS revision when built in a git work tree.
func fromBuildInfo(bi *debug.BuildInfo) (v, c string) {
	v = bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "devel"
	}
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			c = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if c != "" && dirty {
		c += "-dirty"
	}
	return v, c
}
