package version

import (
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	for _, c := range []struct {
		name         string
		bi           debug.BuildInfo
		wantV, wantC string
	}{
		{"go install of a tag", debug.BuildInfo{Main: debug.Module{Version: "v0.3.0"}}, "v0.3.0", ""},
		{"work tree", debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "false"}}}, "devel", "abc123"},
		{"dirty work tree", debug.BuildInfo{Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}}}, "devel", "abc123-dirty"},
	} {
		if v, cm := fromBuildInfo(&c.bi); v != c.wantV || cm != c.wantC {
			t.Errorf("%s: %q %q, want %q %q", c.name, v, cm, c.wantV, c.wantC)
		}
	}
}

// The values the Makefile links in are what both commands print.
func TestCommandsPrintTheLinkedVersion(t *testing.T) {
	if testing.Short() {
		t.Skip("builds two binaries")
	}
	dir := t.TempDir()
	ld := "-X github.com/cairn-io/cairn/internal/version.version=v9.8.7 -X github.com/cairn-io/cairn/internal/version.commit=feedc0de"
	for _, c := range []struct {
		pkg, bin string
		args     []string
	}{
		{"../../cmd/cairnd", "cairnd", []string{"--version"}},
		{"../../cmd/cairnctl", "cairnctl", []string{"version"}},
	} {
		bin := filepath.Join(dir, c.bin)
		if out, err := exec.Command("go", "build", "-ldflags", ld, "-o", bin, c.pkg).CombinedOutput(); err != nil {
			t.Fatalf("build %s: %v\n%s", c.pkg, err, out)
		}
		out, err := exec.Command(bin, c.args...).CombinedOutput()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", c.bin, c.args, err, out)
		}
		if want := c.bin + " v9.8.7 (commit feedc0de)"; strings.TrimSpace(string(out)) != want {
			t.Fatalf("%s %v printed %q, want %q", c.bin, c.args, out, want)
		}
	}
}
