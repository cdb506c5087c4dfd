package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/cairn-io/cairn/client"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// globalFlags are the connection and output flags every command shares.
type globalFlags struct {
	hosts       string
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
}

// envPrefix names the variables that stand in for flags not given on the command line:
// CAIRNCTL_CACERT for --cacert, CAIRNCTL_INSECURE_SKIP_TLS_VERIFY for
// --insecure-skip-tls-verify, as etcdctl reads ETCDCTL_*.
const envPrefix = "CAIRNCTL_"

// flagsFromEnv sets every flag of fs not given on the command line from its variable, if set.
func flagsFromEnv(fs *pflag.FlagSet) error {
	var err error
	fs.VisitAll(func(f *pflag.Flag) {
		if err != nil || f.Changed {
			return
		}
		name := envPrefix + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v, ok := os.LookupEnv(name); ok {
			if serr := fs.Set(f.Name, v); serr != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, serr)
			}
		}
	})
	return err
}

// newRootCommand builds cairnctl. A command group defined elsewhere is registered with one
// line here, e.g. `root.AddCommand(newQuorumCommand())` for cmd/cairnctl/quorum.go.
func newRootCommand() *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:           "cairnctl",
		Short:         "Manage a Cairn cluster: keys, members, cluster view",
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := flagsFromEnv(cmd.Flags()); err != nil {
				return err
			}
			if g.output != "table" && g.output != "json" {
				return fmt.Errorf("-o %q: want table or json", g.output)
			}
			return nil
		},
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.hosts, "hosts", "127.0.0.1:2379", "seed hosts host[:port][,...] (IPv6 in brackets); host:tlsname:port names the certificate expected there")
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

	root.AddCommand(newGetCommand(g), newPutCommand(g), newRmCommand(g), newMkdirCommand(g),
		newLsCommand(g), newWatchCommand(g), newMemberCommand(g), newClusterCommand(g), newHealthCommand(g))
	root.AddCommand(newQuorumCommand())
	root.AddCommand(newUserCommand(g), newRoleCommand(g), newAuthCommand(g))
	root.AddCommand(newVersionCommand())
	root.AddCommand(newSnapshotCommand(g))
	return root
}

// connect builds the cluster definition from the flags and connects.
func (g *globalFlags) connect(ctx context.Context, cmd *cobra.Command) (*client.Cluster, error) {
	hosts, err := client.ParseHosts(g.hosts, 2379)
	if err != nil {
		return nil, fmt.Errorf("--hosts: %w", err)
	}
	d := client.NewClusterDefinitionHosts(hosts...).WithSystemSettings(client.SystemSettings{Timeout: 2 * time.Second})
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
	if g.tls() {
		d.WithTLSConfigOf().CAFile(g.caCert).CertFile(g.cert).KeyFile(g.key).InsecureSkipVerify(g.insecure)
	}
	if err := g.credentials(cmd, d); err != nil {
		return nil, err
	}
	return d.Connect(ctx)
}

// tls reports whether a TLS flag was given: then every member is reached over https://.
func (g *globalFlags) tls() bool {
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
