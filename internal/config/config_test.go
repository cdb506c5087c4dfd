package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func parse(t *testing.T, args []string, env map[string]string) (*Flags, error) {
	t.Helper()
	var f Flags
	fs := pflag.NewFlagSet("cairnd", pflag.ContinueOnError)
	f.Register(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	return &f, Resolve(fs, func(k string) string { return env[k] })
}

func TestPrecedenceFlagOverEnvOverFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "cairn.yaml")
	yaml := "name: from-file\ndata-dir: /file/dir\nlisten-client-urls:\n  - http://127.0.0.1:1111\n  - http://127.0.0.1:2222\nsnapshot-count: 77\n"
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := parse(t, []string{"--config-file", file, "--name", "from-flag"},
		map[string]string{"CAIRN_NAME": "from-env", "CAIRN_DATA_DIR": "/env/dir"})
	if err != nil {
		t.Fatal(err)
	}
	if f.Name != "from-flag" {
		t.Errorf("name = %q: the flag must win", f.Name)
	}
	if f.DataDir != "/env/dir" {
		t.Errorf("data-dir = %q: the environment must win over the file", f.DataDir)
	}
	if strings.Join(f.ListenClientURLs, ",") != "http://127.0.0.1:1111,http://127.0.0.1:2222" {
		t.Errorf("listen-client-urls = %v: the file's list must replace the default", f.ListenClientURLs)
	}
	if f.SnapshotCount != 77 {
		t.Errorf("snapshot-count = %d from the file", f.SnapshotCount)
	}
}

func TestEnvListReplacesDefault(t *testing.T) {
	f, err := parse(t, nil, map[string]string{"CAIRN_LISTEN_PEER_URLS": "http://10.0.0.1:2380, http://10.0.0.2:2380"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.ListenPeerURLs, ",") != "http://10.0.0.1:2380,http://10.0.0.2:2380" {
		t.Fatalf("got %v", f.ListenPeerURLs)
	}
}

func TestBadInputsAreNamed(t *testing.T) {
	dir := t.TempDir()
	unknown := filepath.Join(dir, "unknown.yaml")
	os.WriteFile(unknown, []byte("nmae: typo\n"), 0o600)
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("name: [unclosed\n"), 0o600)
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--config-file", filepath.Join(dir, "missing.yaml")}, nil, "--config-file"},
		{[]string{"--config-file", unknown}, nil, `unknown setting "nmae"`},
		{[]string{"--config-file", broken}, nil, "broken.yaml"},
		{nil, map[string]string{"CAIRN_SNAPSHOT_COUNT": "many"}, "CAIRN_SNAPSHOT_COUNT"},
	} {
		_, err := parse(t, tc.args, tc.env)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v %v: want an error naming %q, got %v", tc.args, tc.env, tc.want, err)
		}
	}
}

func TestNodeConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--initial-cluster-state", "maybe"}, "--initial-cluster-state"},
		{[]string{"--read-consistency", "eventual"}, "--read-consistency"},
		{[]string{"--listen-client-urls", "ftp://x:1"}, "--listen-client-urls"},
		{[]string{"--name", "a", "--initial-cluster", "b=http://127.0.0.1:2380"}, `no member named "a"`},
		{[]string{"--max-value-bytes", "0"}, "--max-value-bytes"},
		{[]string{"--log-format", "xml"}, "--log-format"},
		{[]string{"--registered-peer-urls", "http://placeholder:2380"}, "--registered-peer-urls"},
		{[]string{"--registered-peer-urls", "ftp://x:1", "--initial-cluster-state", "existing"}, "--registered-peer-urls"},
	} {
		f, err := parse(t, tc.args, nil)
		if err == nil {
			if _, err = f.Logger(os.Stderr); err == nil {
				_, err = f.Node(nil)
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: want an error naming %q, got %v", tc.args, tc.want, err)
		}
	}
	f, err := parse(t, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, err := f.Node(nil)
	if err != nil {
		t.Fatalf("defaults must be valid: %v", err)
	}
	if c.DataDir != "cairn-data" || c.ListenClientURLs[0] != "http://127.0.0.1:2379" || c.Limits.MaxRequestBytes != 3<<19 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestListenMetricsURLsFromEnvAndFile(t *testing.T) {
	f, err := parse(t, nil, map[string]string{"CAIRN_LISTEN_METRICS_URLS": "http://127.0.0.1:9101,http://[::1]:9101"})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(f.ListenMetricsURLs, ",") != "http://127.0.0.1:9101,http://[::1]:9101" {
		t.Fatalf("from the environment: %v", f.ListenMetricsURLs)
	}
	file := filepath.Join(t.TempDir(), "cairn.yaml")
	if err := os.WriteFile(file, []byte("listen-metrics-urls:\n  - http://127.0.0.1:9102\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err = parse(t, []string{"--config-file", file}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Node(nil)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(cfg.ListenMetricsURLs, ",") != "http://127.0.0.1:9102" {
		t.Fatalf("from the file: %v", cfg.ListenMetricsURLs)
	}
	f, err = parse(t, []string{"--listen-metrics-urls", "https://127.0.0.1:9103"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Node(nil); err == nil || !strings.Contains(err.Error(), "--listen-metrics-urls") {
		t.Fatalf("https metrics URL: got %v", err)
	}
}
