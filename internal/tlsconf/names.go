package tlsconf

import (
	"crypto/tls"
	"fmt"
	"strings"
)

// CipherSuites maps etcd's --cipher-suites names (which are Go's constant names, e.g.
// TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256) to their ids. TLS 1.3 suites are not
// configurable in Go and so are not accepted, as in etcd.
func CipherSuites(names []string) ([]uint16, error) {
	if len(names) == 0 {
		return nil, nil
	}
	known := map[string]uint16{}
	for _, s := range tls.CipherSuites() {
		if !tls13Only(s) {
			known[s.Name] = s.ID
		}
	}
	for _, s := range tls.InsecureCipherSuites() {
		known[s.Name] = s.ID
	}
	out := make([]uint16, 0, len(names))
	for _, n := range names {
		id, ok := known[strings.TrimSpace(n)]
		if !ok {
			return nil, fmt.Errorf("--cipher-suites: %w %q", ErrUnknownCipher, n)
		}
		out = append(out, id)
	}
	return out, nil
}

func tls13Only(s *tls.CipherSuite) bool {
	return len(s.SupportedVersions) == 1 && s.SupportedVersions[0] == tls.VersionTLS13
}

// Version reads etcd 3.5's spelling of a TLS version ("TLS1.2", "TLS1.3"); "" is 0 (the
// caller's default). flag names the setting in the error.
func Version(flag, v string) (uint16, error) {
	switch v {
	case "":
		return 0, nil
	case "TLS1.2":
		return tls.VersionTLS12, nil
	case "TLS1.3":
		return tls.VersionTLS13, nil
	}
	return 0, fmt.Errorf("%s: %w %q (want TLS1.2 or TLS1.3)", flag, ErrUnknownVersion, v)
}
