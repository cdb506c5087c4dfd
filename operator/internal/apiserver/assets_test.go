package apiserver

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAssetsDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KUBEBUILDER_ASSETS", dir)
	if _, err := AssetsDir(); err == nil || !strings.Contains(err.Error(), "scripts/kube-apiserver.sh") {
		t.Fatalf("an empty folder: %v, want an error saying how to build it", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "kube-apiserver"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := AssetsDir(); err != nil || got != dir {
		t.Fatalf("KUBEBUILDER_ASSETS: %q %v, want %q", got, err, dir)
	}
	cache := t.TempDir()
	t.Setenv("KUBEBUILDER_ASSETS", "")
	t.Setenv("CAIRN_CACHE", cache)
	want := filepath.Join(cache, "kube-apiserver", Version)
	if err := os.MkdirAll(want, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(want, "kube-apiserver"), nil, 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := AssetsDir(); err != nil || got != want {
		t.Fatalf("CAIRN_CACHE: %q %v, want %q", got, err, want)
	}
}
