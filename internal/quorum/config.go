package quorum

import (
	"fmt"
	"log/slog"
	"time"

	wire "github.com/cairn-io/cairn/api/quorum"
	"github.com/prometheus/client_golang/prometheus"
)

// Defaults for Config's zero fields.
const (
	DefaultListenAddr      = ":2381"
	DefaultWindow          = 60 * time.Second
	DefaultMaxPacketSize   = 4096
	DefaultReplayCacheSize = 1 << 16
)

// Config configures a Server. Only Key is required.
type Config struct {
	ListenAddr      string        // UDP host:port; "" means DefaultListenAddr
	Key             []byte        // shared HMAC key; see LoadKey
	Window          time.Duration // accepted clock skew either way; 0 means DefaultWindow
	MaxPacketSize   int           // largest request accepted; 0 means DefaultMaxPacketSize
	ReplayCacheSize int           // salts remembered at most; 0 means DefaultReplayCacheSize
	Now             func() time.Time
	Logger          *slog.Logger
	Registerer      prometheus.Registerer // where the counters go; nil registers nowhere
}

// LoadKey reads the HMAC key file named by --quorum-hmac-key-file, with clear errors for a
// missing, unreadable or empty file. It is api/quorum's, which the client uses too, so servers
// and clients read key files identically.
func LoadKey(path string) ([]byte, error) { return wire.LoadKey(path) }

func (c Config) withDefaults() (Config, error) {
	if len(c.Key) == 0 {
		return c, fmt.Errorf("quorum: no HMAC key configured")
	}
	if c.ListenAddr == "" {
		c.ListenAddr = DefaultListenAddr
	}
	if c.Window == 0 {
		c.Window = DefaultWindow
	}
	if c.MaxPacketSize == 0 {
		c.MaxPacketSize = DefaultMaxPacketSize
	}
	if c.ReplayCacheSize == 0 {
		c.ReplayCacheSize = DefaultReplayCacheSize
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	switch {
	case c.Window < 0:
		return c, fmt.Errorf("quorum: negative timestamp window %v", c.Window)
	case c.MaxPacketSize < wire.MinRequestSize || c.MaxPacketSize > wire.MaxDatagram:
		return c, fmt.Errorf("quorum: max packet size %d outside [%d, %d]", c.MaxPacketSize, wire.MinRequestSize, wire.MaxDatagram)
	case c.ReplayCacheSize < 0:
		return c, fmt.Errorf("quorum: negative replay cache size %d", c.ReplayCacheSize)
	}
	return c, nil
}
