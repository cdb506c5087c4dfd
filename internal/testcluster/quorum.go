package testcluster

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/cairn-io/cairn/internal/node"
)

// QuorumKeyFile is the name of the HMAC key file WithQuorum writes next to the members' data
// directories.
const QuorumKeyFile = "quorum-hmac.key"

// WithQuorum turns on quorum queries: every member (also those added later) gets the HMAC key
// and a UDP port of its own on 127.0.0.1 that it keeps across restarts. It composes with
// WithConfig, which may still override a member's quorum settings (a wrong key, say).
func WithQuorum(key []byte) Option {
	return WithConfig(func(i int, c *node.Config) {
		// Data directories live under the test's temporary directory, which outlives them.
		path := filepath.Join(filepath.Dir(c.DataDir), QuorumKeyFile)
		if err := os.WriteFile(path, key, 0o600); err != nil {
			panic(fmt.Sprintf("testcluster: writing quorum key: %v", err))
		}
		port, err := freeUDPPort()
		if err != nil {
			panic(fmt.Sprintf("testcluster: quorum port: %v", err))
		}
		c.QuorumHMACKeyFile = path
		c.ListenQuorumURL = fmt.Sprintf("udp://127.0.0.1:%d", port)
	})
}

// QuorumAddr is the member's quorum UDP address (host:port), known even while it is down;
// "" when quorum queries are off.
func (m *Member) QuorumAddr() string {
	if m.cfg.QuorumHMACKeyFile == "" {
		return ""
	}
	return strings.TrimPrefix(m.cfg.ListenQuorumURL, "udp://")
}

// QuorumAddrs are every member's quorum addresses, in member order: the peer list for a
// quorum client.
func (c *Cluster) QuorumAddrs() []string {
	var out []string
	for _, m := range c.Members {
		if a := m.QuorumAddr(); a != "" {
			out = append(out, a)
		}
	}
	return out
}

var (
	udpPortsMu sync.Mutex
	// udpPorts keeps one port from going to two members: the kernel may hand a just-closed
	// port out again, and the nodes bind theirs only later.
	udpPorts = map[int]bool{}
)

// freeUDPPort finds a UDP port free on 127.0.0.1 now and not given out before. The node binds
// it itself, and binds the same port again when it restarts, as a real member would.
func freeUDPPort() (int, error) {
	udpPortsMu.Lock()
	defer udpPortsMu.Unlock()
	for range 100 {
		conn, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		port := conn.LocalAddr().(*net.UDPAddr).Port
		conn.Close()
		if !udpPorts[port] {
			udpPorts[port] = true
			return port, nil
		}
	}
	return 0, fmt.Errorf("no fresh UDP port after 100 attempts")
}
