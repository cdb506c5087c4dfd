package directory

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// Refusals and failures. ErrUnavailable is kept apart from ErrBadCredentials
// so that callers can log that the directory is down while answering the
// client with the same refusal.
var (
	ErrBadCredentials = errors.New("directory: wrong user name or password")
	ErrUnavailable    = errors.New("directory: unreachable")
	ErrConfig         = errors.New("directory: invalid configuration")
)

// Config is the --ldap-* flags.
type Config struct {
	URL              string // ldaps://host:port, or ldap://host:port upgraded with StartTLS
	CAFile           string // CAs that sign the directory's certificate; the system's when empty
	BindDN           string // the account searches run as; anonymous searches when empty
	BindPasswordFile string
	UserSearchBase   string
	UserFilter       string // "%s" is the user name, escaped for LDAP, e.g. "(uid=%s)"
	GroupSearchBase  string // no group lookup when empty
	GroupFilter      string // "%s" the user name, "%d" the user's DN, both escaped, e.g. "(memberUid=%s)"
	CacheTTL         time.Duration
	Timeout          time.Duration // per directory operation
	CacheSize        int
}

// Identity is who the directory says the user is.
type Identity struct {
	User   string
	DN     string
	Groups []string
}

// Directory is a configured LDAP directory with its cache of successful
// checks.
type Directory struct {
	cfg          Config
	tls          *tls.Config
	bindPassword string
	key          [32]byte

	mu    sync.Mutex
	cache map[[32]byte]cached
}

type cached struct {
	id      Identity
	expires time.Time
}

// New checks cfg and reads the CA and bind password files.
func New(cfg Config) (*Directory, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "ldaps" && u.Scheme != "ldap") || u.Host == "" {
		return nil, fmt.Errorf("%w: --ldap-url must be ldaps://host[:port] or ldap://host[:port] (StartTLS), got %q", ErrConfig, cfg.URL)
	}
	if cfg.UserSearchBase == "" || !strings.Contains(cfg.UserFilter, "%s") {
		return nil, fmt.Errorf("%w: --ldap-user-search-base and an --ldap-user-filter containing %%s are needed", ErrConfig)
	}
	if cfg.GroupSearchBase != "" && !strings.Contains(cfg.GroupFilter, "%s") && !strings.Contains(cfg.GroupFilter, "%d") {
		return nil, fmt.Errorf("%w: --ldap-group-filter must contain %%s or %%d", ErrConfig)
	}
	if cfg.CacheTTL <= 0 {
		cfg.CacheTTL = time.Minute
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.CacheSize <= 0 {
		cfg.CacheSize = 4096
	}
	host := u.Hostname()
	d := &Directory{cfg: cfg, cache: map[[32]byte]cached{},
		tls: &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --ldap-ca-file: %v", ErrConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%w: --ldap-ca-file %s holds no PEM certificate", ErrConfig, cfg.CAFile)
		}
		d.tls.RootCAs = pool
	}
	if cfg.BindPasswordFile != "" {
		b, err := os.ReadFile(cfg.BindPasswordFile)
		if err != nil {
			return nil, fmt.Errorf("%w: --ldap-bind-password-file: %v", ErrConfig, err)
		}
		d.bindPassword = strings.TrimRight(string(b), "\r\n")
	}
	if _, err := rand.Read(d.key[:]); err != nil {
		return nil, err
	}
	return d, nil
}

// Authenticate checks user and password with the directory, or answers from
// the cache of successful checks younger than the TTL.
func (d *Directory) Authenticate(ctx context.Context, user, password string, now time.Time) (Identity, error) {
	// An empty password would be an unauthenticated bind, which LDAP servers
	// accept for any DN: never send one.
	if user == "" || password == "" {
		return Identity{}, ErrBadCredentials
	}
	digest := d.digest(user, password)
	d.mu.Lock()
	if c, ok := d.cache[digest]; ok {
		if now.Before(c.expires) {
			d.mu.Unlock()
			return c.id, nil
		}
		delete(d.cache, digest)
	}
	d.mu.Unlock()

	id, err := d.check(ctx, user, password)
	if err != nil {
		return Identity{}, err
	}
	d.mu.Lock()
	if len(d.cache) >= d.cfg.CacheSize {
		d.pruneLocked(now)
	}
	d.cache[digest] = cached{id: id, expires: now.Add(d.cfg.CacheTTL)}
	d.mu.Unlock()
	return id, nil
}

func (d *Directory) check(ctx context.Context, user, password string) (Identity, error) {
	conn, err := d.dial(ctx)
	if err != nil {
		return Identity{}, err
	}
	defer conn.Close()
	if err := d.bindService(conn); err != nil {
		return Identity{}, err
	}

	filter := strings.ReplaceAll(d.cfg.UserFilter, "%s", ldap.EscapeFilter(user))
	res, err := conn.Search(ldap.NewSearchRequest(d.cfg.UserSearchBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(d.cfg.Timeout/time.Second), false, filter, []string{"dn"}, nil))
	if err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) || ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
			return Identity{}, ErrBadCredentials
		}
		return Identity{}, fmt.Errorf("%w: user search: %v", ErrUnavailable, err)
	}
	// Exactly one entry: two would make the password decide who logs in.
	if len(res.Entries) != 1 {
		return Identity{}, ErrBadCredentials
	}
	dn := res.Entries[0].DN
	if err := conn.Bind(dn, password); err != nil {
		if ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
			return Identity{}, ErrBadCredentials
		}
		return Identity{}, fmt.Errorf("%w: bind: %v", ErrUnavailable, err)
	}
	id := Identity{User: user, DN: dn}
	if d.cfg.GroupSearchBase == "" {
		return id, nil
	}
	// Group searches run as the service account again, not as the user.
	if err := d.bindService(conn); err != nil {
		return Identity{}, err
	}
	gf := strings.NewReplacer("%s", ldap.EscapeFilter(user), "%d", ldap.EscapeFilter(dn)).Replace(d.cfg.GroupFilter)
	gres, err := conn.Search(ldap.NewSearchRequest(d.cfg.GroupSearchBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		0, int(d.cfg.Timeout/time.Second), false, gf, []string{"cn"}, nil))
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return Identity{}, fmt.Errorf("%w: group search: %v", ErrUnavailable, err)
	}
	if gres != nil {
		for _, e := range gres.Entries {
			if cn := e.GetAttributeValue("cn"); cn != "" {
				id.Groups = append(id.Groups, cn)
			}
		}
	}
	slices.Sort(id.Groups)
	id.Groups = slices.Compact(id.Groups)
	return id, nil
}

func (d *Directory) dial(ctx context.Context) (*ldap.Conn, error) {
	dialer := &net.Dialer{Timeout: d.cfg.Timeout}
	if dl, ok := ctx.Deadline(); ok {
		dialer.Deadline = dl
	}
	conn, err := ldap.DialURL(d.cfg.URL, ldap.DialWithDialer(dialer), ldap.DialWithTLSConfig(d.tls))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	conn.SetTimeout(d.cfg.Timeout)
	if strings.HasPrefix(d.cfg.URL, "ldap://") {
		if err := conn.StartTLS(d.tls); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: StartTLS: %v", ErrUnavailable, err)
		}
	}
	return conn, nil
}

func (d *Directory) bindService(conn *ldap.Conn) error {
	var err error
	if d.cfg.BindDN == "" {
		err = conn.UnauthenticatedBind("")
	} else {
		err = conn.Bind(d.cfg.BindDN, d.bindPassword)
	}
	if err != nil {
		return fmt.Errorf("%w: service bind: %v", ErrUnavailable, err)
	}
	return nil
}

func (d *Directory) digest(user, password string) [32]byte {
	m := hmac.New(sha256.New, d.key[:])
	m.Write([]byte(user))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var out [32]byte
	m.Sum(out[:0])
	return out
}

// pruneLocked drops expired entries, and everything if none had expired: the
// cache must stay bounded whatever the logins.
func (d *Directory) pruneLocked(now time.Time) {
	for k, c := range d.cache {
		if !now.Before(c.expires) {
			delete(d.cache, k)
		}
	}
	if len(d.cache) >= d.cfg.CacheSize {
		clear(d.cache)
	}
}

// CacheTTL is how long a successful check is remembered, and so the longest an external
// user's token may live.
func (d *Directory) CacheTTL() time.Duration { return d.cfg.CacheTTL }
