package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/cairn-io/cairn/internal/clidoc"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// defaultHost is where cairnctl looks when neither --hosts, --endpoints nor --discovery-srv
// says otherwise, as etcdctl does.
const defaultHost = "127.0.0.1:2379"

// globalFlags are the connection and output flags every command shares: one set, defined once
// on the root command, each with its CAIRNCTL_* variable.
type globalFlags struct {
	hosts       string
	endpoints   string
	srvDomain   string
	srvName     string
	alternate   bool
	preferRacks string
	clusterName string
	output      string
	timeout     time.Duration
	serializ    bool
	// TLS, with etcdctl v3's flag names.
	caCert   string
	cert     string
	key      string
	insecure bool
	// Credentials: --user user[:password] and --auth native|external.
	user     string
	authMode string

	// resolver looks SRV records up for --discovery-srv; nil is the system's resolver.
	resolver *net.Resolver
}

// envPrefix names the variables that stand in for flags not given on the command line:
// CAIRNCTL_ENDPOINTS for --endpoints, CAIRNCTL_INSECURE_SKIP_TLS_VERIFY for
// --insecure-skip-tls-verify, as etcdctl reads ETCDCTL_*.
const envPrefix = "CAIRNCTL_"

// envName is the variable of a flag.
func envName(flag string) string {
	return envPrefix + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// flagsFromEnv sets every persistent flag of cmd and its parents that the command line left
// out from its variable, if set. Only those: a command's own flags (--ttl, --recursive) never
// come from the environment, so a variable set for one command cannot change another.
func flagsFromEnv(cmd *cobra.Command) error {
	var err error
	for c := cmd; c != nil; c = c.Parent() {
		fs := c.PersistentFlags()
		fs.VisitAll(func(f *pflag.Flag) {
			if err != nil || f.Changed {
				return
			}
			name := envName(f.Name)
			if v, ok := os.LookupEnv(name); ok {
				if serr := fs.Set(f.Name, v); serr != nil {
					err = fmt.Errorf("%s=%q: %w", name, v, serr)
				}
			}
		})
	}
	return err
}

// annotateEnv adds each persistent flag's variable to its help text, so that --help, the man
// pages and the completions list them.
func annotateEnv(fs *pflag.FlagSet) {
	fs.VisitAll(func(f *pflag.Flag) {
		f.Usage += " [$" + envName(f.Name) + "]"
	})
}

// newRootCommand builds cairnctl. A command group defined elsewhere is registered with one
// line here, e.g. `root.AddCommand(newQuorumCommand(g))` for cmd/cairnctl/quorum.go.
func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:   "cairnctl",
		Short: "Manage a Cairn cluster: keys, members, cluster view",
		Long: `cairnctl manages a Cairn cluster through the Go SDK: keys, members, the cluster view,
users and roles, snapshots and quorum queries.

The cluster is found through one of --endpoints (etcdctl's URLs: https:// means TLS),
--hosts (host[:tlsname]:port) or --discovery-srv (DNS SRV records, as etcdctl). Every global
flag may instead be set by its CAIRNCTL_* variable (CAIRNCTL_ENDPOINTS for --endpoints); a
flag given on the command line wins over its variable.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd); err != nil {
				return err
			}
			if g.output != "table" && g.output != "json" {
				return fmt.Errorf("-o %q: want table or json", g.output)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.hosts, "hosts", "", "seed hosts host[:port][,...] (IPv6 in brackets); host:tlsname:port names the certificate expected there (default "+defaultHost+")")
	pf.StringVar(&g.endpoints, "endpoints", "", "seed URLs as etcdctl takes them, e.g. https://10.0.0.1:2379,https://10.0.0.2:2379; the scheme decides TLS (an alternative to --hosts)")
	pf.StringVar(&g.srvDomain, "discovery-srv", "", "find the seeds in the SRV records _etcd-client-ssl._tcp.DOMAIN and _etcd-client._tcp.DOMAIN")
	pf.StringVar(&g.srvName, "discovery-srv-name", "", "service name suffix of --discovery-srv: _etcd-client-NAME._tcp")
	pf.BoolVar(&g.alternate, "services-alternate", false, "reach members through their alternate client URLs")
	pf.StringVar(&g.preferRacks, "prefer-racks", "", "racks to read from first, in order (e.g. 2,1)")
	pf.StringVar(&g.clusterName, "cluster-name", "", "refuse nodes whose cluster name differs")
	pf.StringVarP(&g.output, "output", "o", "table", "output format: table or json")
	pf.DurationVar(&g.timeout, "timeout", 10*time.Second, "how long a command may take")
	pf.BoolVar(&g.serializ, "serializable", false, "serve reads from the chosen node's state, possibly stale")
	pf.StringVar(&g.caCert, "cacert", "", "verify the members' certificates with this PEM CA bundle (implies TLS)")
	pf.StringVar(&g.cert, "cert", "", "identify this client with this PEM certificate (implies TLS)")
	pf.StringVar(&g.key, "key", "", "PEM private key of --cert")
	pf.BoolVar(&g.insecure, "insecure-skip-tls-verify", false, "speak TLS without verifying the members' certificates (implies TLS)")
	pf.StringVar(&g.user, "user", "", "log in as user[:password]; the password is asked for when left out")
	pf.StringVar(&g.authMode, "auth", "native", "how --user is checked: native (the cluster's users) or external (its LDAP directory, over TLS only)")
	annotateEnv(pf)

	root.AddCommand(newGetCommand(g), newPutCommand(g), newMkCommand(g), newRmCommand(g), newMkdirCommand(g),
		newLsCommand(g), newWatchCommand(g), newMemberCommand(g), newClusterCommand(g), newHealthCommand(g))
	root.AddCommand(newQuorumCommand(g))
	root.AddCommand(newUserCommand(g), newRoleCommand(g), newAuthCommand(g))
	root.AddCommand(newVersionCommand(g))
	root.AddCommand(newSnapshotCommand(g))
	root.AddCommand(newGenDocsCommand())
	return root
}

// definition builds the cluster definition from the flags: the seeds from --endpoints,
// --hosts or --discovery-srv, then the options every command shares.
func (g *globalFlags) definition(cmd *cobra.Command) (*client.ClusterDefinition, error) {
	d, endpointsTLS, err := g.seeds()
	if err != nil {
		return nil, err
	}
	d.WithSystemSettings(client.SystemSettings{Timeout: 2 * time.Second})
	if g.alternate {
		d.UsingServicesAlternate()
	}
	if g.clusterName != "" {
		d.ValidateClusterNameIs(g.clusterName)
	}
	if g.preferRacks != "" {
		var racks []int
		for _, s := range strings.Split(g.preferRacks, ",") {
			r, err := strconv.Atoi(strings.TrimSpace(s))
			if err != nil {
				return nil, fmt.Errorf("--prefer-racks: %q is not a rack number", s)
			}
			racks = append(racks, r)
		}
		d.PreferringRacks(racks...)
	}
	if g.tlsFlags() || endpointsTLS {
		d.WithTLSConfigOf().CAFile(g.caCert).CertFile(g.cert).KeyFile(g.key).InsecureSkipVerify(g.insecure)
	}
	if err := g.credentials(cmd, d); err != nil {
		return nil, err
	}
	return d, nil
}

// seeds reads where the cluster is. --discovery-srv excludes the other two. --endpoints and
// --hosts may be given together only when they name the same addresses (host:port, in any
// order): a script that sets one in the environment and the other on the command line is
// then not refused, while two lists that disagree are, rather than one silently winning.
// endpointsTLS reports https:// endpoints.
func (g *globalFlags) seeds() (d *client.ClusterDefinition, endpointsTLS bool, err error) {
	if g.srvName != "" && g.srvDomain == "" {
		return nil, false, fmt.Errorf("--discovery-srv-name needs --discovery-srv")
	}
	if g.srvDomain != "" {
		if g.hosts != "" || g.endpoints != "" {
			return nil, false, fmt.Errorf("--discovery-srv excludes --hosts and --endpoints: give one way to find the cluster")
		}
		d := client.NewClusterDefinitionSRV(g.srvDomain).WithSRVServiceName(g.srvName)
		if g.resolver != nil {
			d.WithResolver(g.resolver)
		}
		return d, false, nil
	}
	var hosts []client.Host
	if g.endpoints != "" {
		hosts, endpointsTLS, err = parseEndpoints(g.endpoints)
		if err != nil {
			return nil, false, fmt.Errorf("--endpoints: %w", err)
		}
		if !endpointsTLS && g.tlsFlags() {
			return nil, false, fmt.Errorf("--endpoints %s are http:// but a TLS flag is given: use https:// endpoints", g.endpoints)
		}
	}
	if g.hosts != "" || g.endpoints == "" {
		spec := g.hosts
		if spec == "" {
			spec = defaultHost
		}
		hs, err := client.ParseHosts(spec, 2379)
		if err != nil {
			return nil, false, fmt.Errorf("--hosts: %w", err)
		}
		if g.endpoints != "" && !sameAddrs(hosts, hs) {
			return nil, false, fmt.Errorf("--endpoints %s and --hosts %s name different members: give one of them", g.endpoints, g.hosts)
		}
		// --hosts carries TLS names the URLs cannot: it is the list used.
		hosts = hs
	}
	return client.NewClusterDefinitionHosts(hosts...), endpointsTLS, nil
}

// parseEndpoints reads etcdctl's --endpoints: comma-separated http:// or https:// URLs, all of
// one scheme since one client speaks TLS to every member or to none. A URL without a port is
// on 2379 (http) or 2379 too for https, as etcd's clients assume.
func parseEndpoints(s string) ([]client.Host, bool, error) {
	var hosts []client.Host
	scheme := ""
	for _, raw := range strings.Split(s, ",") {
		raw = strings.TrimSpace(raw)
		if raw == "" {
			return nil, false, fmt.Errorf("empty endpoint in %q", s)
		}
		sch, rest, ok := strings.Cut(raw, "://")
		if !ok {
			return nil, false, fmt.Errorf("endpoint %q: want a URL such as http://%s", raw, raw)
		}
		if sch != "http" && sch != "https" {
			return nil, false, fmt.Errorf("endpoint %q: scheme %q, want http or https", raw, sch)
		}
		if scheme != "" && sch != scheme {
			return nil, false, fmt.Errorf("endpoints mix http:// and https://: a client speaks TLS to every member or to none")
		}
		scheme = sch
		rest = strings.TrimSuffix(rest, "/")
		if strings.ContainsAny(rest, "/?#@") {
			return nil, false, fmt.Errorf("endpoint %q: only scheme://host[:port], without a path or credentials", raw)
		}
		hs, err := client.ParseHosts(rest, 2379)
		if err != nil {
			return nil, false, fmt.Errorf("endpoint %q: %w", raw, err)
		}
		if hs[0].TLSName != "" {
			return nil, false, fmt.Errorf("endpoint %q: host:tlsname:port belongs in --hosts", raw)
		}
		hosts = append(hosts, hs[0])
	}
	return hosts, scheme == "https", nil
}

// sameAddrs reports whether a and b list the same host:port addresses, ignoring order,
// repeats and TLS names.
func sameAddrs(a, b []client.Host) bool {
	set := func(hs []client.Host) map[string]bool {
		m := map[string]bool{}
		for _, h := range hs {
			m[net.JoinHostPort(h.Name, strconv.Itoa(h.Port))] = true
		}
		return m
	}
	sa, sb := set(a), set(b)
	if len(sa) != len(sb) {
		return false
	}
	for k := range sa {
		if !sb[k] {
			return false
		}
	}
	return true
}

// connect builds the cluster definition from the flags and connects.
func (g *globalFlags) connect(ctx context.Context, cmd *cobra.Command) (*client.Cluster, error) {
	d, err := g.definition(cmd)
	if err != nil {
		return nil, err
	}
	return d.Connect(ctx)
}

// tlsFlags reports whether a TLS flag was given: then every member is reached over https://.
func (g *globalFlags) tlsFlags() bool {
	return g.caCert != "" || g.cert != "" || g.key != "" || g.insecure
}

func (g *globalFlags) behavior() client.Behavior {
	b := client.DefaultBehavior
	b.Timeout = g.timeout
	if g.serializ {
		b.Consistency = client.Serializable
	}
	return b
}

// run connects, runs fn with a session, and closes.
func (g *globalFlags) run(cmd *cobra.Command, fn func(ctx context.Context, c *client.Cluster, s *client.Session) error) error {
	ctx, cancel := context.WithTimeout(cmd.Context(), g.timeout)
	defer cancel()
	c, err := g.connect(ctx, cmd)
	if err != nil {
		return err
	}
	defer c.Close()
	return fn(ctx, c, c.CreateSession(g.behavior()))
}

// done prints the outcome of a command that changes something and returns nothing to show:
// message as it is, or {"result": message, ...fields} with -o json.
func (g *globalFlags) done(cmd *cobra.Command, message string, fields map[string]any) error {
	if g.output == "json" {
		out := map[string]any{"result": message}
		for k, v := range fields {
			out[k] = v
		}
		return writeJSON(cmd.OutOrStdout(), out)
	}
	_, err := fmt.Fprintln(cmd.OutOrStdout(), message)
	return err
}

func newGenDocsCommand() *cobra.Command { return clidoc.Command() }
