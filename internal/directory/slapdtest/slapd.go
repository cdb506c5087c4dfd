// Package slapdtest starts a real OpenLDAP server (Debian's slapd) for one test, on
// loopback, with LDAPS and StartTLS ports, a CA the test makes, and a small directory of
// people and groups. It is imported only by tests and never starts anything else.
package slapdtest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/cairn-io/cairn/internal/tlsconf/tlstest"
)

// The directory's names: people under ou=people, groups under ou=groups.
const (
	Suffix     = "dc=cairn,dc=test"
	PeopleBase = "ou=people," + Suffix
	GroupsBase = "ou=groups," + Suffix
	SearchDN   = "uid=search," + PeopleBase
	SearchPW   = "search-pw"
	testAdmin  = "cn=admin," + Suffix
	testRootPW = "admin-secret"
)

// Server is a running slapd. Its people: alice (password alice-pw, groups app and ops), bob
// (bob-pw, no group), search (search-pw, the service account), and twin, twice (an
// ambiguous name). OtherCAFile is a CA that signed nothing here.
type Server struct {
	Dir         string
	CAFile      string
	OtherCAFile string
	LDAPURL     string // for StartTLS
	LDAPSURL    string
	cmd         *exec.Cmd
}

// Start starts slapd and loads the directory; the test's cleanup stops it. A test that needs
// it fails, not skips, when slapd is missing: scripts/deps.sh installs it.
func Start(t *testing.T) *Server {
	t.Helper()
	bin, err := exec.LookPath("slapd")
	if err != nil {
		bin = "/usr/sbin/slapd"
		if _, err := os.Stat(bin); err != nil {
			t.Fatalf("slapd is not installed: run scripts/deps.sh (Debian package slapd)")
		}
	}
	dir := t.TempDir()
	s := &Server{Dir: dir, CAFile: filepath.Join(dir, "ca.pem"), OtherCAFile: filepath.Join(dir, "other-ca.pem")}
	writeTestPKI(t, dir)
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
TLSCACertificateFile %[1]s/ca.pem
TLSCertificateFile %[1]s/server.pem
TLSCertificateKeyFile %[1]s/server-key.pem
database mdb
maxsize 16777216
suffix "%[2]s"
rootdn "%[3]s"
rootpw %[4]s
directory %[1]s/db
access to attrs=userPassword by anonymous auth by * none
access to * by * read
`, dir, Suffix, testAdmin, testRootPW)
	confPath := filepath.Join(dir, "slapd.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	for attempt := 0; ; attempt++ {
		p1, p2 := freePort(t), freePort(t)
		s.LDAPURL = "ldap://127.0.0.1:" + strconv.Itoa(p1)
		s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(p2)
		s.cmd = exec.Command(bin, "-f", confPath, "-h", s.LDAPURL+"/ "+s.LDAPSURL+"/", "-d", "0")
		logf, err := os.Create(filepath.Join(dir, "slapd.log"))
		if err != nil {
			t.Fatal(err)
		}
		s.cmd.Stdout, s.cmd.Stderr = logf, logf
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("start slapd: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- s.cmd.Wait() }()
		if s.waitReady(exited) {
			t.Cleanup(func() {
				s.cmd.Process.Kill()
				<-exited
			})
			break
		}
		log, _ := os.ReadFile(filepath.Join(dir, "slapd.log"))
		if attempt == 3 {
			t.Fatalf("slapd did not start:\n%s", log)
		}
		// Most likely a port taken between picking and binding: try others.
		s.cmd.Process.Kill()
	}
	s.load(t)
	return s
}

func (s *Server) waitReady(exited <-chan error) bool {
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return false
		default:
		}
		if c, err := ldap.DialURL(s.LDAPURL); err == nil {
			err = c.Bind(testAdmin, testRootPW)
			c.Close()
			if err == nil {
				return true
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return false
}

func (s *Server) admin(t *testing.T) *ldap.Conn {
	t.Helper()
	c, err := ldap.DialURL(s.LDAPURL)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Bind(testAdmin, testRootPW); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// load adds the people and groups the tests log in with: alice (groups app
// and ops, one posixGroup by uid and one groupOfNames by DN), bob (no
// group), a search account, and two entries sharing uid=twin.
func (s *Server) load(t *testing.T) {
	c := s.admin(t)
	add := func(dn string, attrs map[string][]string) {
		r := ldap.NewAddRequest(dn, nil)
		for k, v := range attrs {
			r.Attribute(k, v)
		}
		if err := c.Add(r); err != nil {
			t.Fatalf("add %s: %v", dn, err)
		}
	}
	add(Suffix, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"cairn"}, "o": {"Cairn"}})
	add("ou=people,"+Suffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}})
	add("ou=groups,"+Suffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}})
	person := func(uid, pw, ou string) {
		add("uid="+uid+","+ou, map[string][]string{"objectClass": {"inetOrgPerson"}, "uid": {uid},
			"cn": {uid}, "sn": {uid}, "userPassword": {pw}})
	}
	person("alice", "alice-pw", "ou=people,"+Suffix)
	person("bob", "bob-pw", "ou=people,"+Suffix)
	person("search", SearchPW, "ou=people,"+Suffix)
	person("twin", "twin-pw", "ou=people,"+Suffix)
	add("ou=more,ou=people,"+Suffix, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"more"}})
	person("twin", "twin-pw", "ou=more,ou=people,"+Suffix)
	add("cn=app,ou=groups,"+Suffix, map[string][]string{"objectClass": {"posixGroup"}, "cn": {"app"},
		"gidNumber": {"1000"}, "memberUid": {"alice"}})
	add("cn=ops,ou=groups,"+Suffix, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"ops"},
		"member": {"uid=alice,ou=people," + Suffix}})
}

// SetPassword changes a user's password as the directory's administrator.
func (s *Server) SetPassword(t *testing.T, uid, pw string) {
	c := s.admin(t)
	m := ldap.NewModifyRequest("uid="+uid+","+PeopleBase, nil)
	m.Replace("userPassword", []string{pw})
	if err := c.Modify(m); err != nil {
		t.Fatal(err)
	}
}

func freePort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// writeTestPKI writes ca.pem and a server certificate for 127.0.0.1
// (server.pem, server-key.pem), and other-ca.pem, a CA that signed nothing here.
func writeTestPKI(t *testing.T, dir string) {
	t.Helper()
	ca := tlstest.NewCA(t, "cairn test ldap CA")
	ca.Write(t, dir, "ca")
	tlstest.NewCA(t, "unrelated CA").Write(t, dir, "other-ca")
	ca.Issue(t, tlstest.Leaf{CN: "127.0.0.1", ServerOnly: true}).Write(t, dir, "server")
}
