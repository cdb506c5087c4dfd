package node

import (
	"fmt"

	"github.com/cairn-io/cairn/internal/directory"
	"github.com/cairn-io/cairn/internal/httpapi"
)

// authConfig adds the LDAP directory to the client port's authentication when --ldap-url is
// set. A directory that cannot be reached is no reason to refuse to start: native users must
// still log in, so only its configuration is checked here.
func authConfig(cfg Config) (httpapi.AuthConfig, error) {
	ac := cfg.Auth
	if cfg.LDAP.URL == "" {
		return ac, nil
	}
	d, err := directory.New(cfg.LDAP)
	if err != nil {
		return ac, fmt.Errorf("ldap: %w", err)
	}
	ac.Directory = d
	if ac.ExternalTokenTTL == 0 {
		ac.ExternalTokenTTL = d.CacheTTL()
	}
	return ac, nil
}

// warnPeerTrust says, when auth is on and the peer port takes anyone, that auth protects
// the client port only: a peer can relay any request (etcd trusts its peers the same way).
func (n *Node) warnPeerTrust() {
	if n.server.AuthState().Enabled() && !n.cfg.PeerTLS.ClientCertAuth {
		n.log.Warn("auth is enabled but --peer-client-cert-auth is off: anyone who reaches the peer port can act as a member; auth protects the client port only")
	}
}
