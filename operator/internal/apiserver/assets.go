// Package apiserver locates the kube-apiserver that the operator's envtest tests run, built
// once by scripts/kube-apiserver.sh into the cache outside the repository. It only finds the
// binaries; it never builds or downloads anything.
package apiserver

import (
	"fmt"
	"os"
	"path/filepath"
)

// Version is the kube-apiserver release scripts/kube-apiserver.sh builds by default.
const Version = "v1.35.4"

// AssetsDir is envtest's BinaryAssetsDirectory: $KUBEBUILDER_ASSETS when set, else the
// script's cache folder, ${CAIRN_CACHE:-$HOME/.cache/cairn}/kube-apiserver/<Version>. It fails,
// saying how to build it, when the folder holds no kube-apiserver.
func AssetsDir() (string, error) {
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		cache := os.Getenv("CAIRN_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "cairn")
		}
		dir = filepath.Join(cache, "kube-apiserver", Version)
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		return "", fmt.Errorf("no kube-apiserver in %s: run `bash scripts/kube-apiserver.sh` (or `make operator-test`) first", dir)
	}
	return dir, nil
}
