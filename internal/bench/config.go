package bench

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Workload names the operation mix a run drives.
type Workload string

const (
	Put   Workload = "put"   // PUT value on a key
	Get   Workload = "get"   // linearizable GET
	SGet  Workload = "sget"  // serializable GET
	Mixed Workload = "mixed" // reads and puts at Config.ReadRatio
	CAS   Workload = "cas"   // prevIndex compare-and-swap loop per key
	Watch Workload = "watch" // watchers fan-out and one writer
)

// Workloads lists every workload in the order the comparison runs them.
var Workloads = []Workload{Put, Get, SGet, Mixed, CAS, Watch}

// Flavour holds the query strings that select a read consistency on one kind
// of server: the two systems spell "serializable" differently.
type Flavour struct {
	Name        string
	LinearQuery string // appended to a linearizable GET
	SerialQuery string // appended to a serializable GET
}

// Flavours are the known targets. etcd's v2 GET is serializable unless
// quorum=true; Cairn's is linearizable by default and accepts quorum=true too.
var Flavours = map[string]Flavour{
	"etcd":  {Name: "etcd", LinearQuery: "quorum=true", SerialQuery: ""},
	"cairn": {Name: "cairn", LinearQuery: "quorum=true", SerialQuery: "consistency=serializable"},
}

// KeyOrder says how workers pick keys.
type KeyOrder string

const (
	Random     KeyOrder = "random"
	Sequential KeyOrder = "sequential" // a shared counter: with Total = KeyCount each key is written once
)

// Config is everything one run needs. Zero values are not defaults: use
// DefaultConfig and override.
type Config struct {
	Workload  Workload
	Endpoints []string
	Flavour   Flavour
	Label     string // free text carried into the result (e.g. "etcd", "cairn")

	Clients   int
	Conns     int      // HTTP connections in the shared pool, across all endpoints
	HTTP      HTTPImpl // request path: RawHTTP or StdlibHTTP (watchers always use net/http)
	Duration  time.Duration
	Total     int64 // if > 0, stop after this many measured operations instead of Duration
	Warmup    time.Duration
	Rate      float64 // operations per second over all clients; 0 = unlimited
	KeyCount  int
	KeySize   int
	ValueSize int
	KeyPrefix string
	KeyOrder  KeyOrder
	Preload   bool // write every key once before a read or cas run
	ReadRatio float64
	MixedRead Workload // Get or SGet: the read half of Mixed
	Timeout   time.Duration
	// TLS configures https:// endpoints.
	TLS TLSFiles
	// User is "user:password" sent with every request as HTTP Basic credentials ("" for none).
	User string

	// ServerPIDs are the member processes whose CPU the run reports per
	// operation (servercpu.go); none: not measured.
	ServerPIDs []int

	Watchers    int
	WatchPrefix bool   // watch the key prefix recursively instead of one key
	WatchMode   string // "longpoll" or "stream"
}

// DefaultConfig returns the defaults the CLI shows.
func DefaultConfig() Config {
	return Config{
		Workload:  Put,
		Endpoints: []string{"http://127.0.0.1:2379"},
		Flavour:   Flavours["etcd"],
		Clients:   16,
		HTTP:      RawHTTP,
		Duration:  10 * time.Second,
		KeyCount:  10000,
		KeySize:   16,
		ValueSize: 256,
		KeyPrefix: "/bench",
		KeyOrder:  Random,
		Preload:   true,
		ReadRatio: 0.9,
		MixedRead: Get,
		Timeout:   10 * time.Second,
		Watchers:  16,
		WatchMode: "stream",
	}
}

// Normalize fills derived fields (Conns defaults to Clients) and rejects
// configurations that cannot run.
func (c *Config) Normalize() error {
	known := false
	for _, w := range Workloads {
		known = known || w == c.Workload
	}
	if !known {
		return fmt.Errorf("unknown workload %q", c.Workload)
	}
	if len(c.Endpoints) == 0 {
		return errors.New("no endpoints")
	}
	for i, e := range c.Endpoints {
		e = strings.TrimRight(strings.TrimSpace(e), "/")
		if !strings.HasPrefix(e, "http://") && !strings.HasPrefix(e, "https://") {
			return fmt.Errorf("endpoint %q: want http:// or https://", e)
		}
		c.Endpoints[i] = e
	}
	if c.Clients < 1 {
		return errors.New("clients must be at least 1")
	}
	if c.Conns <= 0 {
		c.Conns = c.Clients
	}
	if c.HTTP != RawHTTP && c.HTTP != StdlibHTTP {
		return fmt.Errorf("http must be raw or stdlib, not %q", c.HTTP)
	}
	if c.Duration <= 0 && c.Total <= 0 {
		return errors.New("need a positive duration or total")
	}
	if c.Rate < 0 || c.Warmup < 0 {
		return errors.New("rate and warmup must not be negative")
	}
	if c.KeyCount < 1 {
		return errors.New("key-count must be at least 1")
	}
	if c.ValueSize < 0 {
		return errors.New("value-size must not be negative")
	}
	if c.ReadRatio < 0 || c.ReadRatio > 1 {
		return errors.New("read-ratio must be within [0,1]")
	}
	if c.MixedRead != Get && c.MixedRead != SGet {
		return fmt.Errorf("mixed-read must be get or sget, not %q", c.MixedRead)
	}
	if c.KeyOrder != Random && c.KeyOrder != Sequential {
		return fmt.Errorf("key-order must be random or sequential, not %q", c.KeyOrder)
	}
	if c.Workload == Watch {
		if c.Watchers < 1 {
			return errors.New("watch needs at least one watcher")
		}
		if c.WatchMode != "stream" && c.WatchMode != "longpoll" {
			return fmt.Errorf("watch-mode must be stream or longpoll, not %q", c.WatchMode)
		}
		// A timestamp rides in the value so a watcher can measure delivery.
		if c.ValueSize < stampLen {
			c.ValueSize = stampLen
		}
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	return nil
}
