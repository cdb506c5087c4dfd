package client

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Host is a seed address. TLSName is the name to check in the server's certificate when it
// differs from Name (an IP address, typically).
type Host struct {
	Name    string
	TLSName string
	Port    int
}

// NewHost is a Host without a TLS name.
func NewHost(name string, port int) Host { return Host{Name: name, Port: port} }

// String renders h so that ParseHosts reads it back: host:port or host:tlsname:port, with an
// IPv6 address in brackets.
func (h Host) String() string {
	name := h.Name
	if strings.Contains(name, ":") {
		name = "[" + name + "]"
	}
	if h.TLSName != "" {
		return name + ":" + h.TLSName + ":" + strconv.Itoa(h.Port)
	}
	return name + ":" + strconv.Itoa(h.Port)
}

// addr is host:port for dialing.
func (h Host) addr() string { return net.JoinHostPort(h.Name, strconv.Itoa(h.Port)) }

// ParseHosts reads a comma-separated list of hosts: "h1:2379,h2" (h2 on defaultPort),
// "[::1]:2379", "host:tlsname:port". It fails on an empty entry, a port that is not an
// integer in 1-65535, or an IPv6 address without brackets.
func ParseHosts(s string, defaultPort int) ([]Host, error) {
	var out []Host
	for _, part := range strings.Split(s, ",") {
		h, err := parseHost(strings.TrimSpace(part), defaultPort)
		if err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, nil
}

func parseHost(s string, defaultPort int) (Host, error) {
	if s == "" {
		return Host{}, fmt.Errorf("empty host in host list")
	}
	var name, rest string
	if strings.HasPrefix(s, "[") {
		end := strings.Index(s, "]")
		if end < 0 {
			return Host{}, fmt.Errorf("host %q: missing ']'", s)
		}
		name, rest = s[1:end], s[end+1:]
		if name == "" {
			return Host{}, fmt.Errorf("host %q: empty address in brackets", s)
		}
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return Host{}, fmt.Errorf("host %q: unexpected %q after ']'", s, rest)
		}
		rest = strings.TrimPrefix(rest, ":")
	} else {
		var found bool
		name, rest, found = strings.Cut(s, ":")
		if found && rest == "" {
			return Host{}, fmt.Errorf("host %q: empty port", s)
		}
	}
	if !validName(name) {
		return Host{}, fmt.Errorf("host %q: invalid host name", s)
	}
	h := Host{Name: name, Port: defaultPort}
	if rest == "" {
		return h, checkPort(s, h.Port)
	}
	fields := strings.Split(rest, ":")
	switch len(fields) {
	case 1:
	case 2:
		if !validName(fields[0]) {
			return Host{}, fmt.Errorf("host %q: invalid TLS name", s)
		}
		h.TLSName = fields[0]
	default:
		return Host{}, fmt.Errorf("host %q: too many ':' (IPv6 addresses go in brackets)", s)
	}
	p, err := strconv.Atoi(fields[len(fields)-1])
	if err != nil {
		return Host{}, fmt.Errorf("host %q: port %q is not an integer", s, fields[len(fields)-1])
	}
	h.Port = p
	return h, checkPort(s, p)
}

func checkPort(s string, p int) error {
	if p < 1 || p > 65535 {
		return fmt.Errorf("host %q: port %d out of range 1-65535", s, p)
	}
	return nil
}

// validName refuses what cannot be part of a host or TLS name and would not read back: blanks,
// control characters and the list's own punctuation.
func validName(n string) bool {
	if n == "" {
		return false
	}
	for _, r := range n {
		if r <= ' ' || r == 0x7f || strings.ContainsRune(",/[]", r) {
			return false
		}
	}
	return true
}
