package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The man pages and completions `make man` writes are generated from the commands' own
// definitions: they exist for cairnctl and cairnd, mention their real flags, render without
// warnings, and the completions complete real flags in real bash and fish (scripts/deps.sh
// installs fish and bash-completion).
func TestGeneratedManPagesAndCompletions(t *testing.T) {
	ctlBin := cairnctlBinary(t)
	binDir := t.TempDir()
	cairnd := filepath.Join(binDir, "cairnd")
	if out, err := exec.Command("go", "build", "-o", cairnd, "../cairnd").CombinedOutput(); err != nil {
		t.Fatalf("go build cairnd: %v\n%s", err, out)
	}
	if err := os.Symlink(ctlBin, filepath.Join(binDir, "cairnctl")); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, bin := range []string{ctlBin, cairnd} {
		if out, err := exec.Command(bin, "gen-docs", dir).CombinedOutput(); err != nil {
			t.Fatalf("%s gen-docs: %v\n%s", bin, err, out)
		}
	}
	read := func(rel string) string {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	for page, flags := range map[string][]string{
		"man1/cairnctl.1":                {`\fB--endpoints\fP`, `\fB--hosts\fP`, `\fB--discovery-srv\fP`, "$CAIRNCTL_ENDPOINTS"},
		"man1/cairnctl-put.1":            {`\fB--ttl\fP`, `\fB--endpoints\fP`},
		"man1/cairnctl-ls.1":             {`\fB--recursive\fP`},
		"man1/cairnctl-mk.1":             {`\fB--in-order\fP`},
		"man1/cairnctl-member-promote.1": {"cairnctl member promote NAME"},
		"man1/cairnctl-quorum-ping.1":    {`\fB--quorum-hmac-key-file\fP`},
		"man1/cairnd.1":                  {`\fB--initial-cluster\fP`, `\fB--listen-client-urls\fP`, `\fB--discovery-srv\fP`},
	} {
		text := read(page)
		for _, f := range flags {
			if !strings.Contains(text, f) {
				t.Errorf("%s does not mention %s", page, f)
			}
		}
		if strings.Contains(text, "gen-docs") {
			t.Errorf("%s mentions the hidden gen-docs", page)
		}
		if _, err := exec.LookPath("groff"); err == nil {
			out, err := exec.Command("groff", "-man", "-Tutf8", "-ww", "-z", filepath.Join(dir, page)).CombinedOutput()
			if err != nil || len(out) > 0 {
				t.Errorf("groff on %s: %v %s", page, err, out)
			}
		}
	}
	for _, f := range []string{"completion/_cairnctl", "completion/_cairnd"} {
		if text := read(f); !strings.HasPrefix(text, "#compdef "+strings.TrimPrefix(filepath.Base(f), "_")) {
			t.Errorf("%s is not a zsh completion: %.60q", f, text)
		}
	}

	for _, need := range []string{"/usr/share/bash-completion/bash_completion"} {
		if _, err := os.Stat(need); err != nil {
			t.Fatalf("%v: run scripts/deps.sh (bash-completion)", err)
		}
	}
	if _, err := exec.LookPath("fish"); err != nil {
		t.Fatalf("%v: run scripts/deps.sh (fish)", err)
	}
	env := append(os.Environ(), "PATH="+binDir+":"+os.Getenv("PATH"))
	shell := func(name string, args ...string) string {
		t.Helper()
		cmd := exec.Command(name, args...)
		cmd.Env = env
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("%s %v: %v\n%s", name, args, err, out)
		}
		return string(out)
	}
	bash := func(script, line string) string {
		return shell("bash", "-c", `source /usr/share/bash-completion/bash_completion; source "$1"
read -ra COMP_WORDS <<< "$2"; COMP_WORDS+=(""); COMP_LINE="$2"; [[ "$2" == *" " ]] || unset 'COMP_WORDS[-1]'
COMP_CWORD=$((${#COMP_WORDS[@]}-1)); COMP_POINT=${#COMP_LINE}; "__start_$3"; printf '%s\n' "${COMPREPLY[@]}"`,
			"bash", filepath.Join(dir, "completion", script), line, strings.TrimSuffix(script, ".bash"))
	}
	if got := bash("cairnctl.bash", "cairnctl put --tt"); !strings.Contains(got, "--ttl") {
		t.Errorf("bash completes `cairnctl put --tt` to %q", got)
	}
	if got := bash("cairnctl.bash", "cairnctl mem"); !strings.Contains(got, "member") {
		t.Errorf("bash completes `cairnctl mem` to %q", got)
	}
	if got := bash("cairnd.bash", "cairnd --initial-cl"); !strings.Contains(got, "--initial-cluster") {
		t.Errorf("bash completes `cairnd --initial-cl` to %q", got)
	}
	fish := func(script, line string) string {
		return shell("fish", "-c", "source $argv[1]; complete -C $argv[2]", filepath.Join(dir, "completion", script), line)
	}
	if got := fish("cairnctl.fish", "cairnctl --endp"); !strings.Contains(got, "--endpoints") {
		t.Errorf("fish completes `cairnctl --endp` to %q", got)
	}
	if got := fish("cairnd.fish", "cairnd --listen-cl"); !strings.Contains(got, "--listen-client-urls") {
		t.Errorf("fish completes `cairnd --listen-cl` to %q", got)
	}
}
