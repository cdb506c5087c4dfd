package packaging

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

func repoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..")
}

// unitRoot builds a filesystem root for systemd-analyze --root: systemd's own units (the unit
// depends on targets such as network-online.target), the unit at its documented place and a
// real cairnd at the ExecStart path, so verify checks what an installation would hold.
func unitRoot(t *testing.T) string {
	t.Helper()
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/lib/systemd", "etc/systemd/system"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	units := "/usr/lib/systemd/system"
	if out, err := exec.Command("cp", "-r", units, filepath.Join(root, "usr/lib/systemd/")).CombinedOutput(); err != nil {
		t.Fatalf("copying systemd's units from %s: %v %s", units, err, out)
	}
	unit, err := os.ReadFile(filepath.Join(repoRoot(), "deploy", "cairnd.service"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "etc/systemd/system/cairnd.service"), unit, 0o644); err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-o", filepath.Join(root, "usr/bin/cairnd"), "./cmd/cairnd")
	build.Dir = repoRoot()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building cairnd: %v %s", err, out)
	}
	return root
}

func analyze(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Fatal("systemd-analyze not found: run scripts/deps.sh (Debian's systemd)")
	}
	var out bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	return strings.TrimSpace(out.String()), err
}

// TestUnitVerifies: systemd-analyze verify finds nothing to say about the unit. It also
// warns, with a zero exit, about unknown or misspelt settings, so any output fails the test.
func TestUnitVerifies(t *testing.T) {
	root := unitRoot(t)
	out, err := analyze(t, "verify", "--man=no", "--root="+root, "/etc/systemd/system/cairnd.service")
	if err != nil || out != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// And it does look: without the binary the same unit is refused.
	if err := os.Remove(filepath.Join(root, "usr/bin/cairnd")); err != nil {
		t.Fatal(err)
	}
	if out, err := analyze(t, "verify", "--man=no", "--root="+root, "/etc/systemd/system/cairnd.service"); err == nil {
		t.Fatalf("verify passed a unit whose ExecStart is missing:\n%s", out)
	}
}

// maxExposure is the exposure level, out of 10, that systemd's security review may give the
// unit at most; 2 is the top of its "OK" band. The unit scored 1.4 when written.
const maxExposure = 2.0

// TestUnitIsHardened runs systemd's offline security review of the unit and holds it to
// maxExposure, so losing a hardening setting fails here.
func TestUnitIsHardened(t *testing.T) {
	root := unitRoot(t)
	out, err := analyze(t, "security", "--offline=true", "--no-pager", "--root="+root, "/etc/systemd/system/cairnd.service")
	if err != nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, out)
	}
	const marker = "Overall exposure level for cairnd.service: "
	i := strings.LastIndex(out, marker)
	if i < 0 {
		t.Fatalf("no overall exposure level in:\n%s", out)
	}
	fields := strings.Fields(out[i+len(marker):])
	if len(fields) == 0 {
		t.Fatalf("no exposure figure after %q", marker)
	}
	level, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		t.Fatalf("exposure %q: %v", fields[0], err)
	}
	if level > maxExposure {
		t.Fatalf("exposure level %.1f exceeds %.1f:\n%s", level, maxExposure, out)
	}
	t.Logf("systemd's exposure level for cairnd.service: %.1f (at most %.1f)", level, maxExposure)
	for _, setting := range []string{"DynamicUser=", "ProtectSystem=", "StateDirectory=", "LimitNOFILE="} {
		if !strings.Contains(unitText(t), "\n"+setting) {
			t.Errorf("the unit lacks %s", setting)
		}
	}
}

func unitText(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(), "deploy", "cairnd.service"))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
