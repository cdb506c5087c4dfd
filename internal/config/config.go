package config

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/internal/directory"
	"github.com/cairn-io/cairn/internal/httpapi"
	"github.com/cairn-io/cairn/internal/node"
	"github.com/cairn-io/cairn/internal/tlsconf"
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
	RegisteredPeerURLs       []string
	InitialCluster           string
	InitialClusterState      string
	JoinTimeout              time.Duration
	InitialClusterToken      string
	ForceNewCluster          bool
	DiscoverySRV             string
	DiscoverySRVName         string

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

	// Client port TLS, named as etcd's flags.
	CertFile                  string
	KeyFile                   string
	TrustedCAFile             string
	ClientCertAuth            bool
	AutoTLS                   bool
	ClientCRLFile             string
	ClientCertAllowedHostname string
	// Peer port TLS.
	PeerCertFile            string
	PeerKeyFile             string
	PeerTrustedCAFile       string
	PeerClientCertAuth      bool
	PeerAutoTLS             bool
	PeerCertAllowedCN       string
	PeerCRLFile             string
	PeerCertAllowedHostname string
	// Both ports.
	CipherSuites  []string
	TLSMinVersion string
	TLSMaxVersion string

	// Authentication: login tokens and the LDAP directory for external users.
	AuthTokenTTL         time.Duration
	LDAPURL              string
	LDAPCAFile           string
	LDAPBindDN           string
	LDAPBindPasswordFile string
	LDAPUserSearchBase   string
	LDAPUserFilter       string
	LDAPGroupSearchBase  string
	LDAPGroupFilter      string
	LDAPCacheTTL         time.Duration
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
	fs.StringSliceVar(&f.RegisteredPeerURLs, "registered-peer-urls", nil, "with --initial-cluster-state existing, the placeholder peer URLs `member add` registered this member under before its address was known; on joining it replaces them with --initial-advertise-peer-urls through the member API")
	fs.StringVar(&f.InitialCluster, "initial-cluster", "", "initial members, name=peerURL,... (default: this member alone)")
	fs.StringVar(&f.InitialClusterState, "initial-cluster-state", "new", "new to bootstrap a cluster, existing to join one after `member add`")
	fs.DurationVar(&f.JoinTimeout, "join-timeout", 0, "with --initial-cluster-state existing, how long to wait for this member's `member add` before giving up (0: twice --request-timeout)")
	fs.StringVar(&f.InitialClusterToken, "initial-cluster-token", "cairn-cluster", "token that keeps clusters bootstrapped from the same URLs apart")
	fs.StringVar(&f.DiscoverySRV, "discovery-srv", "", "bootstrap the initial cluster from the DNS SRV records _etcd-server-ssl._tcp and _etcd-server._tcp of this domain, as etcd does")
	fs.StringVar(&f.DiscoverySRVName, "discovery-srv-name", "", "suffix of the SRV services looked up with --discovery-srv (_etcd-server-<name>._tcp)")
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
	fs.Uint64Var(&f.SnapshotCount, "snapshot-count", 100000, "applied writes between two snapshots (log compaction); a batch entry counts as the writes it holds")
	fs.DurationVar(&f.SnapshotInterval, "snapshot-interval", 30*time.Second, "how often to check whether --snapshot-count was reached")
	fs.StringSliceVar(&f.ListenMetricsURLs, "listen-metrics-urls", nil, "plain-HTTP URLs serving /metrics, /health, /livez and /readyz (for scrapers and probes without client certificates)")
	fs.BoolVar(&f.EnablePprof, "enable-pprof", false, "serve Go's runtime profiles under /debug/pprof/ on the client port, as etcd does")
	fs.StringVar(&f.LogFormat, "log-format", "text", "log format: text or json")
	fs.StringVar(&f.LogLevel, "log-level", "info", "log level: debug, info, warn or error")

	fs.StringVar(&f.CertFile, "cert-file", "", "client port TLS certificate (PEM), re-read when the file changes")
	fs.StringVar(&f.KeyFile, "key-file", "", "client port TLS key (PEM), re-read when the file changes")
	fs.StringVar(&f.TrustedCAFile, "trusted-ca-file", "", "CA certificates (PEM) that client certificates must be signed by")
	fs.BoolVar(&f.ClientCertAuth, "client-cert-auth", false, "refuse clients without a certificate signed by --trusted-ca-file")
	fs.BoolVar(&f.AutoTLS, "auto-tls", false, "serve https:// client URLs with a self-signed certificate made in the data directory")
	fs.StringVar(&f.ClientCRLFile, "client-crl-file", "", "certificate revocation list (PEM or DER): client certificates listed in it are refused")
	fs.StringVar(&f.ClientCertAllowedHostname, "client-cert-allowed-hostname", "", "accept only client certificates valid for this hostname")
	fs.StringVar(&f.PeerCertFile, "peer-cert-file", "", "peer port TLS certificate (PEM), used both to serve and to dial; re-read when the file changes")
	fs.StringVar(&f.PeerKeyFile, "peer-key-file", "", "peer port TLS key (PEM), re-read when the file changes")
	fs.StringVar(&f.PeerTrustedCAFile, "peer-trusted-ca-file", "", "CA certificates (PEM) that other members' certificates must be signed by")
	fs.BoolVar(&f.PeerClientCertAuth, "peer-client-cert-auth", false, "refuse peers without a certificate signed by --peer-trusted-ca-file")
	fs.BoolVar(&f.PeerAutoTLS, "peer-auto-tls", false, "serve and dial https:// peer URLs with a self-signed certificate made in the data directory (encrypts, does not authenticate)")
	fs.StringVar(&f.PeerCertAllowedCN, "peer-cert-allowed-cn", "", "accept only peer certificates with this common name")
	fs.StringVar(&f.PeerCRLFile, "peer-crl-file", "", "certificate revocation list (PEM or DER): peer certificates listed in it are refused")
	fs.StringVar(&f.PeerCertAllowedHostname, "peer-cert-allowed-hostname", "", "accept only peer certificates valid for this hostname")
	fs.StringSliceVar(&f.CipherSuites, "cipher-suites", nil, "TLS 1.2 cipher suites allowed on both ports, by Go's (and etcd's) names (default: Go's)")
	fs.StringVar(&f.TLSMinVersion, "tls-min-version", "TLS1.2", "lowest TLS version on both ports: TLS1.2 or TLS1.3")
	fs.DurationVar(&f.AuthTokenTTL, "auth-token-ttl", 10*time.Minute, "how long a token from POST /v1/auth/login is valid")
	fs.StringVar(&f.LDAPURL, "ldap-url", "", "LDAP directory for external users: ldaps://host:port, or ldap://host:port upgraded with StartTLS")
	fs.StringVar(&f.LDAPCAFile, "ldap-ca-file", "", "CA certificates (PEM) that sign the directory's certificate (default: the system's)")
	fs.StringVar(&f.LDAPBindDN, "ldap-bind-dn", "", "DN that user and group searches bind as (default: anonymous searches)")
	fs.StringVar(&f.LDAPBindPasswordFile, "ldap-bind-password-file", "", "file holding --ldap-bind-dn's password")
	fs.StringVar(&f.LDAPUserSearchBase, "ldap-user-search-base", "", "where users are searched, e.g. ou=people,dc=example,dc=com")
	fs.StringVar(&f.LDAPUserFilter, "ldap-user-filter", "(uid=%s)", "filter finding a user; %s is the user name, escaped for LDAP")
	fs.StringVar(&f.LDAPGroupSearchBase, "ldap-group-search-base", "", "where groups are searched (a group maps to the Cairn role of its name); no groups when empty")
	fs.StringVar(&f.LDAPGroupFilter, "ldap-group-filter", "(memberUid=%s)", "filter finding a user's groups; %s is the user name, %d the user's DN, both escaped")
	fs.DurationVar(&f.LDAPCacheTTL, "ldap-cache-ttl", time.Minute, "how long a successful LDAP check is remembered (a disabled account works at most this long)")
	fs.StringVar(&f.TLSMaxVersion, "tls-max-version", "", "highest TLS version on both ports: TLS1.2 or TLS1.3 (default: the highest Go supports)")
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
		InitialCluster: f.InitialCluster, InitialClusterState: f.InitialClusterState, JoinTimeout: f.JoinTimeout,
		RegisteredPeerURLs:  f.RegisteredPeerURLs,
		InitialClusterToken: f.InitialClusterToken, ForceNewCluster: f.ForceNewCluster,
		DiscoverySRV: f.DiscoverySRV, DiscoverySRVName: f.DiscoverySRVName,
		ClusterName: f.ClusterName, RackID: f.RackID, AdvertiseAlternateClientURLs: f.AdvertiseAlternateClientURLs,
		ListenQuorumURL: f.ListenQuorumURL, QuorumHMACKeyFile: f.QuorumHMACKeyFile,
		ListenMetricsURLs: f.ListenMetricsURLs,
		Limits:            httpapi.Limits{MaxKeyBytes: f.MaxKeyBytes, MaxValueBytes: f.MaxValueBytes, MaxRequestBytes: f.MaxRequestBytes},
		ReadConsistency:   f.ReadConsistency, RequestTimeout: f.RequestTimeout, EnablePprof: f.EnablePprof,
		ElectionTimeout: et,
		SnapshotCount:   f.SnapshotCount, SnapshotInterval: f.SnapshotInterval,
		Logger: log,
		ClientTLS: tlsconf.Info{CertFile: f.CertFile, KeyFile: f.KeyFile, TrustedCAFile: f.TrustedCAFile,
			ClientCertAuth: f.ClientCertAuth, CRLFile: f.ClientCRLFile, AllowedHostname: f.ClientCertAllowedHostname,
			CipherSuites: f.CipherSuites, MinVersion: f.TLSMinVersion, MaxVersion: f.TLSMaxVersion},
		PeerTLS: tlsconf.Info{CertFile: f.PeerCertFile, KeyFile: f.PeerKeyFile, TrustedCAFile: f.PeerTrustedCAFile,
			ClientCertAuth: f.PeerClientCertAuth, CRLFile: f.PeerCRLFile, AllowedCN: f.PeerCertAllowedCN,
			AllowedHostname: f.PeerCertAllowedHostname,
			CipherSuites:    f.CipherSuites, MinVersion: f.TLSMinVersion, MaxVersion: f.TLSMaxVersion},
		AutoTLS: f.AutoTLS, PeerAutoTLS: f.PeerAutoTLS,
		Auth: httpapi.AuthConfig{TokenTTL: f.AuthTokenTTL, ExternalTokenTTL: f.LDAPCacheTTL},
		LDAP: directory.Config{URL: f.LDAPURL, CAFile: f.LDAPCAFile, BindDN: f.LDAPBindDN,
			BindPasswordFile: f.LDAPBindPasswordFile, UserSearchBase: f.LDAPUserSearchBase,
			UserFilter: f.LDAPUserFilter, GroupSearchBase: f.LDAPGroupSearchBase, GroupFilter: f.LDAPGroupFilter,
			CacheTTL: f.LDAPCacheTTL},
	}
	if f.AuthTokenTTL <= 0 {
		return node.Config{}, fmt.Errorf("--auth-token-ttl must be positive, got %s", f.AuthTokenTTL)
	}
	c.Defaults()
	return c, c.Validate()
}
