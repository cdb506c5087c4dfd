package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/internal/httpapi"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// Flags holds every cairnd setting as parsed.
type Flags struct {
	ConfigFile string

	Name                     string
	DataDir                  string
	ListenClientURLs         []string
	AdvertiseClientURLs      []string
	ListenPeerURLs           []string
	InitialAdvertisePeerURLs []string
	InitialCluster           string
	InitialClusterState      string
	InitialClusterToken      string
	ForceNewCluster          bool

	ClusterName                  string
	RackID                       int
	AdvertiseAlternateClientURLs []string
	ListenQuorumURL              string
	QuorumHMACKeyFile            string

	MaxKeyBytes      int
	MaxValueBytes    int
	MaxRequestBytes  int64
	ReadConsistency  string
	RequestTimeout   time.Duration
	ElectionTimeout  int // milliseconds, as etcd's flag
	SnapshotCount    uint64
	SnapshotInterval time.Duration

	ListenMetricsURLs []string

	LogFormat   string
	LogLevel    string
	EnablePprof bool
}

// Register defines the flags on fs.
func (f *Flags) Register(fs *pflag.FlagSet) {
	fs.StringVar(&f.ConfigFile, "config-file", "", "YAML file with settings named like the flags (e.g. data-dir: /var/lib/cairn)")
	fs.StringVar(&f.Name, "name", "default", "human-readable name of this member")
	fs.StringVar(&f.DataDir, "data-dir", "cairn-data", "directory for the raft log, snapshots and member identity")
	fs.StringSliceVar(&f.ListenClientURLs, "listen-client-urls", []string{"http://127.0.0.1:2379"}, "URLs to serve the client API on")
	fs.StringSliceVar(&f.AdvertiseClientURLs, "advertise-client-urls", nil, "client URLs announced to the cluster (default: --listen-client-urls)")
	fs.StringSliceVar(&f.ListenPeerURLs, "listen-peer-urls", []string{"http://127.0.0.1:2380"}, "URLs to serve raft and peer traffic on")
	fs.StringSliceVar(&f.InitialAdvertisePeerURLs, "initial-advertise-peer-urls", nil, "peer URLs announced to the cluster (default: --listen-peer-urls)")
	fs.StringVar(&f.InitialCluster, "initial-cluster", "", "initial members, name=peerURL,... (default: this member alone)")
	fs.StringVar(&f.InitialClusterState, "initial-cluster-state", "new", "new to bootstrap a cluster, existing to join one after `member add`")
	fs.StringVar(&f.InitialClusterToken, "initial-cluster-token", "cairn-cluster", "token that keeps clusters bootstrapped from the same URLs apart")
	fs.BoolVar(&f.ForceNewCluster, "force-new-cluster", false, "disaster recovery: restart this member's data as a one-member cluster (see docs/operations.md)")
	fs.StringVar(&f.ClusterName, "cluster-name", "", "cluster name that clients may check before trusting a node (ValidateClusterNameIs)")
	fs.IntVar(&f.RackID, "rack-id", 0, "this member's rack (failure domain); clients can prefer racks for reads")
	fs.StringSliceVar(&f.AdvertiseAlternateClientURLs, "advertise-alternate-client-urls", nil, "client URLs for clients on another network (behind NAT, outside Kubernetes)")
	fs.StringVar(&f.ListenQuorumURL, "listen-quorum-url", "udp://127.0.0.1:2381", "UDP address for signed quorum queries (only with --quorum-hmac-key-file)")
	fs.StringVar(&f.QuorumHMACKeyFile, "quorum-hmac-key-file", "", "file holding the shared HMAC key for quorum queries; without it the UDP port stays closed")
	fs.IntVar(&f.MaxKeyBytes, "max-key-bytes", httpapi.DefaultLimits.MaxKeyBytes, "longest key path accepted, in bytes")
	fs.IntVar(&f.MaxValueBytes, "max-value-bytes", httpapi.DefaultLimits.MaxValueBytes, "largest value accepted, in bytes")
	fs.Int64Var(&f.MaxRequestBytes, "max-request-bytes", httpapi.DefaultLimits.MaxRequestBytes, "largest request body accepted, in bytes")
	fs.StringVar(&f.ReadConsistency, "read-consistency", "linearizable", "default for reads: linearizable, or serializable (local, possibly stale)")
	fs.DurationVar(&f.RequestTimeout, "request-timeout", 5*time.Second, "how long a write or linearizable read may wait, leader elections included")
	fs.IntVar(&f.ElectionTimeout, "election-timeout", 0, "raft election timeout in milliseconds (0: built-in default); heartbeats go out every tenth of it")
	fs.Uint64Var(&f.SnapshotCount, "snapshot-count", 100000, "applied entries between two snapshots (log compaction)")
	fs.DurationVar(&f.SnapshotInterval, "snapshot-interval", 30*time.Second, "how often to check whether --snapshot-count was reached")
	fs.StringSliceVar(&f.ListenMetricsURLs, "listen-metrics-urls", nil, "plain-HTTP URLs serving /metrics, /health, /livez and /readyz (for scrapers and probes without client certificates)")
	fs.BoolVar(&f.EnablePprof, "enable-pprof", false, "serve Go's runtime profiles under /debug/pprof/ on the client port, as etcd does")
	fs.StringVar(&f.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.LogLevel, "log-level", "info", "log level: debug, info, warn or error")
}

// EnvName is the environment variable for a flag: --data-dir is CAIRN_DATA_DIR.
func EnvName(flag string) string {
	return "CAIRN_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// Resolve fills every flag not given on the command line from the environment, then from the
// config file. It reports the first value that does not parse, naming where it came from.
func Resolve(fs *pflag.FlagSet, getenv func(string) string) error {
	file := map[string]any{}
	path := fs.Lookup("config-file").Value.String()
	if path == "" {
		path = getenv(EnvName("config-file"))
	}
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("--config-file: %v", err)
		}
		if err := yaml.Unmarshal(b, &file); err != nil {
			return fmt.Errorf("--config-file %s: %v", path, err)
		}
		for k := range file {
			if fs.Lookup(k) == nil {
				return fmt.Errorf("--config-file %s: unknown setting %q", path, k)
			}
		}
	}
	var firstErr error
	fs.VisitAll(func(fl *pflag.Flag) {
		if firstErr != nil || fl.Changed {
			return
		}
		if v := getenv(EnvName(fl.Name)); v != "" {
			if err := setFlag(fl, v); err != nil {
				firstErr = fmt.Errorf("%s=%q: %v", EnvName(fl.Name), v, err)
			}
			return
		}
		if v, ok := file[fl.Name]; ok {
			if err := setFlag(fl, yamlString(v)); err != nil {
				firstErr = fmt.Errorf("--config-file %s: %s: %v", path, fl.Name, err)
			}
		}
	})
	return firstErr
}

// setFlag replaces a list flag's default instead of appending to it.
func setFlag(fl *pflag.Flag, v string) error {
	if sv, ok := fl.Value.(pflag.SliceValue); ok {
		return sv.Replace(splitList(v))
	}
	return fl.Value.Set(v)
}

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func yamlString(v any) string {
	switch x := v.(type) {
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			parts[i] = fmt.Sprint(e)
		}
		return strings.Join(parts, ",")
	case nil:
		return ""
	default:
		return fmt.Sprint(x)
	}
}

// Logger builds the slog logger the flags ask for.
func (f *Flags) Logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(f.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %v", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch f.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format must be text or json, not %q", f.LogFormat)
}

// Node converts the flags into a node configuration.
func (f *Flags) Node(log *slog.Logger) (node.Config, error) {
	if f.MaxKeyBytes <= 0 || f.MaxValueBytes <= 0 || f.MaxRequestBytes <= 0 {
		return node.Config{}, fmt.Errorf("--max-key-bytes, --max-value-bytes and --max-request-bytes must be positive")
	}
	if f.ElectionTimeout < 0 {
		return node.Config{}, fmt.Errorf("--election-timeout must not be negative, got %s", strconv.Itoa(f.ElectionTimeout))
	}
	et := time.Duration(f.ElectionTimeout) * time.Millisecond
	c := node.Config{
		Name: f.Name, DataDir: f.DataDir,
		ListenClientURLs: f.ListenClientURLs, AdvertiseClientURLs: f.AdvertiseClientURLs,
		ListenPeerURLs: f.ListenPeerURLs, InitialAdvertisePeerURLs: f.InitialAdvertisePeerURLs,
		InitialCluster: f.InitialCluster, InitialClusterState: f.InitialClusterState,
		InitialClusterToken: f.InitialClusterToken, ForceNewCluster: f.ForceNewCluster,
		ClusterName: f.ClusterName, RackID: f.RackID, AdvertiseAlternateClientURLs: f.AdvertiseAlternateClientURLs,
		ListenQuorumURL: f.ListenQuorumURL, QuorumHMACKeyFile: f.QuorumHMACKeyFile,
		ListenMetricsURLs: f.ListenMetricsURLs,
		Limits:            httpapi.Limits{MaxKeyBytes: f.MaxKeyBytes, MaxValueBytes: f.MaxValueBytes, MaxRequestBytes: f.MaxRequestBytes},
		ReadConsistency:   f.ReadConsistency, RequestTimeout: f.RequestTimeout, EnablePprof: f.EnablePprof,
		ElectionTimeout: et,
		SnapshotCount:   f.SnapshotCount, SnapshotInterval: f.SnapshotInterval,
		Logger: log,
	}
	c.Defaults()
	return c, c.Validate()
}
