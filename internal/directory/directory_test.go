package directory

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/directory/slapdtest"
)

func config(s *slapdtest.Server, url string) Config {
	pwFile := filepath.Join(s.Dir, "bind-pw")
	os.WriteFile(pwFile, []byte(slapdtest.SearchPW+"\n"), 0o600)
	return Config{URL: url, CAFile: s.CAFile,
		BindDN: slapdtest.SearchDN, BindPasswordFile: pwFile,
		UserSearchBase: slapdtest.PeopleBase, UserFilter: "(uid=%s)",
		GroupSearchBase: slapdtest.GroupsBase, GroupFilter: "(|(memberUid=%s)(member=%d))",
		CacheTTL: time.Minute, Timeout: 5 * time.Second}
}

func mustNew(t *testing.T, cfg Config) *Directory {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestAuthenticateAgainstSlapd(t *testing.T) {
	s := slapdtest.Start(t)
	ctx := context.Background()
	now := time.Now()
	for _, url := range []string{s.LDAPSURL, s.LDAPURL} { // LDAPS, then StartTLS
		t.Run(url[:strings.Index(url, ":")], func(t *testing.T) {
			d := mustNew(t, config(s, url))
			id, err := d.Authenticate(ctx, "alice", "alice-pw", now)
			if err != nil {
				t.Fatal(err)
			}
			if id.User != "alice" || id.DN != "uid=alice,"+slapdtest.PeopleBase || !slices.Equal(id.Groups, []string{"app", "ops"}) {
				t.Fatalf("identity %+v", id)
			}
			id, err = d.Authenticate(ctx, "bob", "bob-pw", now)
			if err != nil || len(id.Groups) != 0 {
				t.Fatalf("bob: %+v %v", id, err)
			}
			for name, c := range map[string][2]string{
				"wrong password":          {"alice", "nope"},
				"unknown user":            {"carol", "alice-pw"},
				"empty password":          {"alice", ""},
				"filter injection":        {"*", "alice-pw"},
				"filter injection (or)":   {"alice)(uid=*", "alice-pw"},
				"ambiguous user":          {"twin", "twin-pw"},
				"service account as user": {"search", "wrong"},
			} {
				if _, err := d.Authenticate(ctx, c[0], c[1], now); !errors.Is(err, ErrBadCredentials) {
					t.Errorf("%s: %v, want ErrBadCredentials", name, err)
				}
			}
		})
	}
}

func TestCacheHoldsForTTLOnly(t *testing.T) {
	s := slapdtest.Start(t)
	cfg := config(s, s.LDAPSURL)
	cfg.CacheTTL = time.Minute
	d := mustNew(t, cfg)
	ctx := context.Background()
	now := time.Now()
	if _, err := d.Authenticate(ctx, "alice", "alice-pw", now); err != nil {
		t.Fatal(err)
	}
	// The account's password changes (as disabling it would): within the
	// TTL the cached check still holds, after it the directory decides.
	s.SetPassword(t, "alice", "changed")
	if _, err := d.Authenticate(ctx, "alice", "alice-pw", now.Add(59*time.Second)); err != nil {
		t.Fatalf("within TTL: %v", err)
	}
	if _, err := d.Authenticate(ctx, "alice", "alice-pw", now.Add(61*time.Second)); !errors.Is(err, ErrBadCredentials) {
		t.Fatalf("after TTL: %v, want ErrBadCredentials", err)
	}
	// Failures are never cached: the new password works at once.
	if _, err := d.Authenticate(ctx, "alice", "changed", now.Add(61*time.Second)); err != nil {
		t.Fatalf("new password: %v", err)
	}
}

func TestDirectoryUnavailable(t *testing.T) {
	s := slapdtest.Start(t)
	ctx := context.Background()

	closed := config(s, "ldaps://127.0.0.1:"+strconv.Itoa(closedPort(t)))
	d := mustNew(t, closed)
	_, err := d.Authenticate(ctx, "alice", "alice-pw", time.Now())
	if !errors.Is(err, ErrUnavailable) || errors.Is(err, ErrBadCredentials) {
		t.Fatalf("closed port: %v, want ErrUnavailable", err)
	}

	// A directory whose certificate another CA signed is not trusted.
	wrongCA := config(s, s.LDAPSURL)
	wrongCA.CAFile = s.OtherCAFile
	if _, err := mustNew(t, wrongCA).Authenticate(ctx, "alice", "alice-pw", time.Now()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("untrusted certificate: %v, want ErrUnavailable", err)
	}
	wrongCA.URL = s.LDAPURL
	if _, err := mustNew(t, wrongCA).Authenticate(ctx, "alice", "alice-pw", time.Now()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("untrusted certificate over StartTLS: %v, want ErrUnavailable", err)
	}

	// A wrong service password is the operator's mistake, not the user's.
	badBind := config(s, s.LDAPSURL)
	os.WriteFile(badBind.BindPasswordFile, []byte("wrong"), 0o600)
	if _, err := mustNew(t, badBind).Authenticate(ctx, "alice", "alice-pw", time.Now()); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("wrong bind password: %v, want ErrUnavailable", err)
	}
}

func TestConfigRefused(t *testing.T) {
	good := Config{URL: "ldaps://127.0.0.1:1", UserSearchBase: "dc=x", UserFilter: "(uid=%s)"}
	for name, mod := range map[string]func(*Config){
		"http url":         func(c *Config) { c.URL = "http://127.0.0.1" },
		"no host":          func(c *Config) { c.URL = "ldaps://" },
		"no search base":   func(c *Config) { c.UserSearchBase = "" },
		"filter without s": func(c *Config) { c.UserFilter = "(uid=alice)" },
		"group filter":     func(c *Config) { c.GroupSearchBase = "dc=x"; c.GroupFilter = "(cn=x)" },
		"missing CA file":  func(c *Config) { c.CAFile = "/nonexistent/ca.pem" },
		"missing pw file":  func(c *Config) { c.BindPasswordFile = "/nonexistent/pw" },
	} {
		c := good
		mod(&c)
		if _, err := New(c); !errors.Is(err, ErrConfig) {
			t.Errorf("%s: %v, want ErrConfig", name, err)
		}
	}
	if _, err := New(good); err != nil {
		t.Fatalf("good config: %v", err)
	}
}

// closedPort is a loopback port nothing listens on (it was free a moment ago).
func closedPort(t *testing.T) int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
