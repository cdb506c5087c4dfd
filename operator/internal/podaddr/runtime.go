package podaddr

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Runtime is what the init step learned, written as cairnd's --config-file: the keys are
// cairnd's flag names.
type Runtime struct {
	AdvertiseClientURLs          string
	AdvertiseAlternateClientURLs string
	InitialAdvertisePeerURLs     string
	// RegisteredPeerURLs is the placeholder the operator registered a joining member under when
	// its fabric address was not known before the pod ran; empty with fabricType pod.
	RegisteredPeerURLs  string
	InitialCluster      string
	InitialClusterState string
}

// Render is the YAML cairnd's --config-file reads. Values are quoted so that no URL or list is
// read as anything but a string.
func (r Runtime) Render() []byte {
	var b strings.Builder
	put := func(k, v string) {
		if v != "" {
			fmt.Fprintf(&b, "%s: %q\n", k, v)
		}
	}
	put("advertise-client-urls", r.AdvertiseClientURLs)
	put("advertise-alternate-client-urls", r.AdvertiseAlternateClientURLs)
	put("initial-advertise-peer-urls", r.InitialAdvertisePeerURLs)
	put("registered-peer-urls", r.RegisteredPeerURLs)
	put("initial-cluster", r.InitialCluster)
	put("initial-cluster-state", r.InitialClusterState)
	return []byte(b.String())
}

// Write replaces path with the rendered file; a reader sees the old file or the new one.
func (r Runtime) Write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, r.Render(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// InitialCluster is cairnd's --initial-cluster for a pod: itself at its resolved peer URL, and,
// when joining an existing cluster, the members the operator listed (name=url,...), its own
// stale entry dropped.
func InitialCluster(self, selfPeerURL, state, members string) string {
	parts := []string{self + "=" + selfPeerURL}
	if state != "existing" {
		return parts[0]
	}
	for _, m := range SplitList(members) {
		name, _, ok := strings.Cut(m, "=")
		if !ok || name == self {
			continue
		}
		parts = append(parts, m)
	}
	return strings.Join(parts, ",")
}
