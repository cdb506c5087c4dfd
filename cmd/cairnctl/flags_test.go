package main

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/cairn-io/cairn/internal/testcluster"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// One set of global flags: every command has each of the root's persistent flags, none of them
// redefined by a command of its own.
func TestOneSetOfGlobalFlags(t *testing.T) {
	root := newRootCommand()
	globals := root.PersistentFlags()
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			globals.VisitAll(func(g *pflag.Flag) {
				if sub.LocalNonPersistentFlags().Lookup(g.Name) != nil || sub.PersistentFlags().Lookup(g.Name) != nil {
					t.Errorf("%s defines --%s again", sub.CommandPath(), g.Name)
				}
				if f := sub.Flags().Lookup(g.Name); f == nil && sub.InheritedFlags().Lookup(g.Name) != g {
					t.Errorf("%s does not inherit --%s", sub.CommandPath(), g.Name)
				}
			})
			walk(sub)
		}
	}
	walk(root)
}

// Every global flag, and every flag of a command group (quorum's), takes its value from its
// CAIRNCTL_* variable when the command line leaves it out, and the command line wins.
func TestEveryGlobalFlagHasAVariable(t *testing.T) {
	root := newRootCommand()
	quorum, _, err := root.Find([]string{"quorum", "ping"})
	if err != nil {
		t.Fatal(err)
	}
	// Parse as cobra does, so that the persistent flags of root and quorum are merged in.
	if err := quorum.ParseFlags([]string{"--cluster-name", "from-flag"}); err != nil {
		t.Fatal(err)
	}
	value := func(f *pflag.Flag) string {
		switch f.Value.Type() {
		case "bool":
			return "true"
		case "duration":
			return "7s"
		case "int":
			return "7"
		}
		return "from-env-" + f.Name
	}
	var flags []*pflag.Flag
	for c := quorum; c != nil; c = c.Parent() {
		c.PersistentFlags().VisitAll(func(f *pflag.Flag) { flags = append(flags, f) })
	}
	if len(flags) < 16 {
		t.Fatalf("only %d persistent flags found", len(flags))
	}
	for _, f := range flags {
		t.Setenv(envName(f.Name), value(f))
	}
	if err := flagsFromEnv(quorum); err != nil {
		t.Fatal(err)
	}
	for _, f := range flags {
		want := value(f)
		if f.Value.Type() == "duration" {
			want = "7s"
		}
		if f.Name == "cluster-name" {
			want = "from-flag"
		}
		if got := f.Value.String(); got != want {
			t.Errorf("--%s is %q with %s=%q set, want %q", f.Name, got, envName(f.Name), value(f), want)
		}
		if !strings.Contains(f.Usage, "$"+envName(f.Name)) {
			t.Errorf("--%s's help does not name %s", f.Name, envName(f.Name))
		}
	}
	// A command's own flags never come from the environment.
	put, _, _ := root.Find([]string{"put"})
	t.Setenv("CAIRNCTL_TTL", "60")
	if err := put.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if err := flagsFromEnv(put); err != nil {
		t.Fatal(err)
	}
	if got := put.Flags().Lookup("ttl").Value.String(); got != "0" {
		t.Fatalf("CAIRNCTL_TTL set put's --ttl to %s", got)
	}
	t.Setenv("CAIRNCTL_TIMEOUT", "soon")
	put, _, _ = newRootCommand().Find([]string{"put"})
	if err := put.ParseFlags(nil); err != nil {
		t.Fatal(err)
	}
	if err := flagsFromEnv(put); err == nil || !strings.Contains(err.Error(), "CAIRNCTL_TIMEOUT") {
		t.Fatalf("a bad variable: %v", err)
	}
}

// --endpoints, --hosts and their variables against a real member.
func TestEndpointsAndHosts(t *testing.T) {
	c := testcluster.New(t, 1)
	host := strings.TrimPrefix(c.Members[0].ClientURL, "http://")
	plain := newCtl(t)
	plain.succeed("--endpoints", "http://"+host, "put", "/ep", "blue")
	if out := plain.with("CAIRNCTL_ENDPOINTS=http://"+host).succeed("get", "/ep"); !strings.Contains(out, "blue") {
		t.Fatalf("CAIRNCTL_ENDPOINTS: %q", out)
	}
	// A flag wins over its variable: the variable names a port where nothing listens.
	dead := "http://127.0.0.1:1"
	if out := plain.with("CAIRNCTL_ENDPOINTS="+dead).succeed("--endpoints", c.Members[0].ClientURL+"/", "get", "/ep"); !strings.Contains(out, "blue") {
		t.Fatalf("--endpoints over CAIRNCTL_ENDPOINTS: %q", out)
	}
	// -o from its variable.
	var js struct{ Node struct{ Value string } }
	if err := json.Unmarshal([]byte(plain.with("CAIRNCTL_ENDPOINTS=http://"+host, "CAIRNCTL_OUTPUT=json").succeed("get", "/ep")), &js); err != nil || js.Node.Value != "blue" {
		t.Fatalf("CAIRNCTL_OUTPUT=json: %+v %v", js, err)
	}
	// Both lists: accepted when they name the same members, refused when not.
	plain.succeed("--endpoints", "http://"+host, "--hosts", host, "get", "/ep")
	plain.with("CAIRNCTL_HOSTS="+host).succeed("--endpoints", "http://"+host, "get", "/ep")
	plain.fail("name different members", "--endpoints", "http://"+host, "--hosts", "127.0.0.1:1", "get", "/ep")
	plain.fail("name different members", "--endpoints", "http://"+host+",http://127.0.0.1:1", "--hosts", host, "get", "/ep")
	plain.fail("mix http:// and https://", "--endpoints", "http://"+host+",https://127.0.0.1:1", "get", "/ep")
	plain.fail("want a URL", "--endpoints", host, "get", "/ep")
	plain.fail("scheme \"unix\"", "--endpoints", "unix://"+host, "get", "/ep")
	plain.fail("without a path", "--endpoints", "http://"+host+"/v2", "get", "/ep")
	plain.fail("excludes --hosts and --endpoints", "--discovery-srv", "x.test", "--hosts", host, "get", "/ep")
	plain.fail("needs --discovery-srv", "--discovery-srv-name", "blue", "get", "/ep")
}

// --discovery-srv and --discovery-srv-name find the cluster through the system's resolver, as
// etcdctl's do. The binary runs in a private mount namespace whose /etc/resolv.conf names a
// real DNS server on a loopback address of its own, so the machine's resolver is untouched.
func TestDiscoverySRV(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: a private mount namespace and port 53")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatalf("unshare (util-linux) is needed: %v", err)
	}
	var pc net.PacketConn
	var err error
	for range 20 {
		ip := fmt.Sprintf("127.%d.%d.%d", 50+rand.IntN(150), rand.IntN(256), 1+rand.IntN(254))
		if pc, err = net.ListenPacket("udp", ip+":53"); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("no loopback address with a free port 53: %v", err)
	}
	d := testcluster.NewDNSServerOn(t, pc)
	c := testcluster.New(t, 3)
	for _, service := range []string{"_etcd-client._tcp", "_etcd-client-blue._tcp"} {
		for _, m := range c.Members {
			_, port, _ := net.SplitHostPort(strings.TrimPrefix(m.ClientURL, "http://"))
			p, _ := strconv.Atoi(port)
			d.Add(t, fmt.Sprintf("%s.srv.test. 60 IN SRV 0 0 %d %s.srv.test.", service, p, m.Name))
		}
	}
	for _, m := range c.Members {
		d.Add(t, fmt.Sprintf("%s.srv.test. 60 IN A 127.0.0.1", m.Name))
	}
	resolv := filepath.Join(t.TempDir(), "resolv.conf")
	if err := os.WriteFile(resolv, []byte("nameserver "+pc.LocalAddr().(*net.UDPAddr).IP.String()+"\noptions attempts:1 timeout:2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ns := newCtl(t)
	ns.wrap = []string{"unshare", "--mount", "sh", "-c", `mount --bind "$0" /etc/resolv.conf && exec "$@"`, resolv}

	ns.succeed("--discovery-srv", "srv.test", "put", "/srv", "found")
	if out := ns.succeed("--discovery-srv", "srv.test", "--discovery-srv-name", "blue", "get", "/srv"); !strings.Contains(out, "found") {
		t.Fatalf("--discovery-srv-name blue: %q", out)
	}
	if out := ns.with("CAIRNCTL_DISCOVERY_SRV=srv.test", "CAIRNCTL_DISCOVERY_SRV_NAME=blue").succeed("member", "list"); strings.Count(out, "Online") != 3 {
		t.Fatalf("member list through SRV: %q", out)
	}
	// No such records: the error names both records looked up.
	_, errOut, code := ns.run("--discovery-srv", "srv.test", "--discovery-srv-name", "green", "--timeout", "5s", "get", "/srv")
	if code == 0 || !strings.Contains(errOut, "_etcd-client-ssl-green._tcp.srv.test") || !strings.Contains(errOut, "_etcd-client-green._tcp.srv.test") {
		t.Fatalf("missing records: exit %d, %q", code, errOut)
	}
}
