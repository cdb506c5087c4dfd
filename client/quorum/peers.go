package quorum

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	wire "github.com/cairn-io/cairn/api/quorum"
)

// DefaultPort is the quorum UDP port a peer without one is assumed to listen on.
const DefaultPort = wire.DefaultPort

var (
	// ErrNoPeers is returned for an empty peer list: no answer could ever be trusted.
	ErrNoPeers = errors.New("quorum: empty peer list")
	// ErrMixedFamilies is returned when peers mix IPv4 and IPv6: the client talks to all
	// of them from one socket of one family.
	ErrMixedFamilies = errors.New("quorum: peers mix IPv4 and IPv6 addresses")
)

// parsePeers turns "host" or "host:port" strings (IPv6 as "::1" or "[::1]:2381") into UDP
// addresses of a single family, resolving host names once. It returns the family (4 or 6).
func parsePeers(peers []string, defaultPort int) ([]netip.AddrPort, int, error) {
	if len(peers) == 0 {
		return nil, 0, ErrNoPeers
	}
	out := make([]netip.AddrPort, 0, len(peers))
	seen := make(map[netip.AddrPort]bool, len(peers))
	family := 0
	for _, p := range peers {
		ap, err := parsePeer(p, defaultPort)
		if err != nil {
			return nil, 0, err
		}
		f := 6
		if ap.Addr().Is4() {
			f = 4
		}
		if family != 0 && f != family {
			return nil, 0, fmt.Errorf("%w: %q", ErrMixedFamilies, p)
		}
		family = f
		// Asking one member twice would let it count twice towards NeededReplies.
		if !seen[ap] {
			seen[ap] = true
			out = append(out, ap)
		}
	}
	return out, family, nil
}

func parsePeer(p string, defaultPort int) (netip.AddrPort, error) {
	s := strings.TrimSpace(p)
	if s == "" {
		return netip.AddrPort{}, fmt.Errorf("quorum: empty peer address")
	}
	host, port := s, strconv.Itoa(defaultPort)
	if h, pt, err := net.SplitHostPort(s); err == nil {
		host, port = h, pt
	} else if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		host = s[1 : len(s)-1]
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return netip.AddrPort{}, fmt.Errorf("quorum: peer %q: invalid port %q", p, port)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil {
		ua, rerr := net.ResolveUDPAddr("udp", net.JoinHostPort(host, port))
		if rerr != nil {
			return netip.AddrPort{}, fmt.Errorf("quorum: peer %q: %w", p, rerr)
		}
		addr, _ = netip.AddrFromSlice(ua.IP)
	}
	if addr.Zone() != "" || !addr.IsValid() {
		return netip.AddrPort{}, fmt.Errorf("quorum: peer %q: unusable address", p)
	}
	return netip.AddrPortFrom(addr.Unmap(), uint16(n)), nil
}
