// Command cairn-bench is a load generator for etcd v2-compatible HTTP
// endpoints, Cairn's or etcd's: put, linearizable and serializable get, a
// mixed ratio, compare-and-swap and watch fan-out, with HDR latency
// percentiles and errors by kind. It is a thin CLI over internal/bench.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/cairn-io/cairn/internal/bench"
)

func main() {
	if err := newRoot(os.Stdout, os.Stderr).Execute(); err != nil {
		os.Exit(1)
	}
}

type options struct {
	cfg       bench.Config
	endpoints string
	target    string
	linearQ   string
	serialQ   string
	keyOrder  string
	mixedRead string
	http      string
	procs     int
	json      bool
	progress  bool
	// servers' CPU per operation (servercpu.go)
	serverPIDs []int
	serverCPU  bool
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	o := &options{cfg: bench.DefaultConfig()}
	root := &cobra.Command{
		Use:           "cairn-bench",
		Short:         "Load generator for etcd v2-compatible endpoints (Cairn or etcd)",
		SilenceUsage:  true,
		SilenceErrors: false,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	f := root.PersistentFlags()
	f.StringVar(&o.endpoints, "endpoints", "http://127.0.0.1:2379", "comma-separated client URLs; clients are spread over them")
	f.StringVar(&o.target, "target", "etcd", "server flavour, which picks the read-consistency query strings: etcd or cairn")
	f.StringVar(&o.linearQ, "linearizable-query", "", "query string of a linearizable GET (overrides --target's)")
	f.StringVar(&o.serialQ, "serializable-query", "", "query string of a serializable GET (overrides --target's; may be empty)")
	f.StringVar(&o.cfg.Label, "label", "", "label carried into the result (used by 'report')")
	f.IntVar(&o.cfg.Clients, "clients", o.cfg.Clients, "concurrent clients (one request in flight each)")
	f.IntVar(&o.cfg.Conns, "conns", 0, "HTTP connections in the shared pool (0 = one per client)")
	f.IntVar(&o.procs, "procs", 1, "processors the generator's Go code may use at once (GOMAXPROCS); 0 = Go's default")
	f.StringVar(&o.http, "http", string(o.cfg.HTTP), "request path: raw (the bench's own lean HTTP/1.1 client) or stdlib (net/http); https endpoints and watch streams always use net/http")
	f.DurationVar(&o.cfg.Duration, "duration", o.cfg.Duration, "measured duration (ignored when --total is set)")
	f.Int64Var(&o.cfg.Total, "total", 0, "stop after this many operations instead of --duration")
	f.DurationVar(&o.cfg.Warmup, "warmup", 0, "run this long before measuring")
	f.Float64Var(&o.cfg.Rate, "rate", 0, "operations per second over all clients (watch: writer puts); 0 = unlimited")
	f.IntVar(&o.cfg.KeyCount, "key-count", o.cfg.KeyCount, "number of distinct keys")
	f.IntVar(&o.cfg.KeySize, "key-size", o.cfg.KeySize, "bytes in a key's last path element")
	f.IntVar(&o.cfg.ValueSize, "value-size", o.cfg.ValueSize, "bytes in a value")
	f.StringVar(&o.cfg.KeyPrefix, "key-prefix", o.cfg.KeyPrefix, "directory the keys live under")
	f.StringVar(&o.keyOrder, "key-order", string(o.cfg.KeyOrder), "random or sequential (with --total = --key-count, writes each key once)")
	f.BoolVar(&o.cfg.Preload, "preload", o.cfg.Preload, "write every key once before get, sget, mixed and cas runs")
	f.DurationVar(&o.cfg.Timeout, "timeout", o.cfg.Timeout, "per-request response timeout")
	f.StringVar(&o.cfg.TLS.CACert, "cacert", "", "https endpoints: verify the servers with this PEM CA bundle (default: the system's roots)")
	f.StringVar(&o.cfg.TLS.Cert, "cert", "", "https endpoints: present this PEM client certificate")
	f.StringVar(&o.cfg.TLS.Key, "key", "", "PEM private key of --cert")
	f.BoolVar(&o.cfg.TLS.InsecureSkipVerify, "insecure-skip-tls-verify", false, "https endpoints: do not verify the servers' certificates")
	f.StringVar(&o.cfg.User, "user", "", "send user:password with every request (HTTP Basic, as etcd v2 clients do)")
	f.BoolVar(&o.json, "json", false, "print the result as one JSON line instead of a table")
	f.BoolVar(&o.progress, "progress", true, "print a live progress line on stderr")
	f.IntSliceVar(&o.serverPIDs, "server-pids", nil, "member processes whose CPU per operation is reported (default: those listening on --endpoints' ports)")
	f.BoolVar(&o.serverCPU, "server-cpu", true, "report the servers' CPU per operation (local servers, from /proc)")

	for _, w := range []struct {
		wl    bench.Workload
		short string
	}{
		{bench.Put, "PUT values on random keys"},
		{bench.Get, "linearizable GETs (etcd: quorum=true)"},
		{bench.SGet, "serializable GETs (etcd: plain GET; cairn: consistency=serializable)"},
		{bench.Mixed, "reads and writes at --read-ratio"},
		{bench.CAS, "compare-and-swap loop with prevIndex, each client on its own keys"},
		{bench.Watch, "watch fan-out: --watchers watch a key or prefix while one writer puts; measures delivery latency"},
	} {
		cmd := &cobra.Command{
			Use:   string(w.wl),
			Short: w.short,
			Args:  cobra.NoArgs,
			RunE: func(cmd *cobra.Command, _ []string) error {
				o.cfg.Workload = w.wl
				return o.run(cmd.Context(), stdout, stderr)
			},
		}
		switch w.wl {
		case bench.Mixed:
			cmd.Flags().Float64Var(&o.cfg.ReadRatio, "read-ratio", o.cfg.ReadRatio, "fraction of operations that are reads")
			cmd.Flags().StringVar(&o.mixedRead, "read", "get", "kind of read: get (linearizable) or sget (serializable)")
		case bench.Watch:
			cmd.Flags().IntVar(&o.cfg.Watchers, "watchers", o.cfg.Watchers, "number of watchers")
			cmd.Flags().BoolVar(&o.cfg.WatchPrefix, "prefix", false, "watch --key-prefix recursively; the writer cycles over --key-count keys")
			cmd.Flags().StringVar(&o.cfg.WatchMode, "mode", o.cfg.WatchMode, "stream (one long response) or longpoll (a request per event, waitIndex)")
		}
		root.AddCommand(cmd)
	}
	root.AddCommand(newReportCmd(stdout))
	return root
}

func (o *options) run(ctx context.Context, stdout, stderr io.Writer) error {
	fl, ok := bench.Flavours[o.target]
	if !ok {
		return fmt.Errorf("unknown --target %q (want etcd or cairn)", o.target)
	}
	if o.linearQ != "" {
		fl.LinearQuery = o.linearQ
	}
	if o.serialQ != "" {
		fl.SerialQuery = o.serialQ
	}
	o.cfg.Flavour = fl
	o.cfg.Endpoints = strings.Split(o.endpoints, ",")
	o.cfg.ServerPIDs = o.findServers(stderr)
	o.cfg.KeyOrder = bench.KeyOrder(o.keyOrder)
	o.cfg.HTTP = bench.HTTPImpl(o.http)
	if o.mixedRead != "" {
		o.cfg.MixedRead = bench.Workload(o.mixedRead)
	}
	// One processor by default: with more, the runtime keeps waking idle
	// threads to share out the goroutines that replies make ready, which
	// costs the generator CPU the servers need (docs/performance.md).
	if o.procs > 0 {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(o.procs))
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	var progress bench.ProgressFunc
	if o.progress {
		progress = newProgress(stderr)
	}
	res, err := bench.Run(ctx, o.cfg, progress)
	if progress != nil {
		endProgress(stderr)
	}
	if res == nil {
		return err
	}
	if err != nil {
		fmt.Fprintf(stderr, "cairn-bench: stopped early: %v\n", err)
	}
	if o.json {
		b, jerr := json.Marshal(res)
		if jerr != nil {
			return jerr
		}
		fmt.Fprintf(stdout, "%s\n", b)
	} else if werr := bench.WriteTable(stdout, res); werr != nil {
		return werr
	}
	return err
}

// isTTY reports whether w is a terminal, where the progress line rewrites
// itself with \r instead of scrolling.
func isTTY(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

func newProgress(w io.Writer) bench.ProgressFunc {
	tty := isTTY(w)
	return func(elapsed time.Duration, rate float64, ops, errs int64) {
		phase := fmt.Sprintf("%5.0fs", elapsed.Seconds())
		if elapsed < 0 {
			phase = "warmup"
		}
		line := fmt.Sprintf("[%s] %9.0f ops/s  total %9d  errors %d", phase, rate, ops, errs)
		if tty {
			fmt.Fprintf(w, "\r%-70s", line)
		} else {
			fmt.Fprintln(w, line)
		}
	}
}

func endProgress(w io.Writer) {
	if isTTY(w) {
		fmt.Fprintln(w)
	}
}

func newReportCmd(stdout io.Writer) *cobra.Command {
	var a, b string
	cmd := &cobra.Command{
		Use:   "report FILE...",
		Short: "Compare JSON-lines results of two labels (default etcd and cairn): mean of repeats and the ratio b/a",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			var recs []bench.Record
			for _, p := range args {
				f, err := os.Open(p)
				if err != nil {
					return err
				}
				r, err := bench.ReadRecords(f)
				f.Close()
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				recs = append(recs, r...)
			}
			return bench.WriteComparison(stdout, recs, a, b)
		},
	}
	cmd.Flags().StringVar(&a, "a", "etcd", "label of the baseline")
	cmd.Flags().StringVar(&b, "b", "cairn", "label compared against the baseline")
	return cmd
}
