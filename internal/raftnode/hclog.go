package raftnode

import (
	"context"
	"fmt"
	"io"
	"log"
	"log/slog"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// hclog's own hclogslog goes the other way (an slog handler over hclog);
// the third-party adapters that go this way are small enough that a module
// dependency for them buys nothing, hence this one.

// levelTrace sits below slog's Debug, as hclog's Trace sits below its Debug.
const levelTrace = slog.LevelDebug - 4

// slogHCLog routes raft's hclog output into an slog.Logger. The level is
// whatever the slog handler enables; SetLevel is ignored because the slog
// configuration is the single place that decides it.
type slogHCLog struct {
	base    *slog.Logger // the caller's logger plus implied args, without the name
	l       *slog.Logger // base plus component=name
	name    string
	implied []interface{}
}

func newHCLog(l *slog.Logger, name string) hclog.Logger {
	return derive(l, name, nil)
}

func derive(base *slog.Logger, name string, implied []interface{}) *slogHCLog {
	return &slogHCLog{base: base, l: base.With("component", name), name: name, implied: implied}
}

func toSlogLevel(level hclog.Level) slog.Level {
	switch level {
	case hclog.Trace:
		return levelTrace
	case hclog.Debug:
		return slog.LevelDebug
	case hclog.Warn:
		return slog.LevelWarn
	case hclog.Error:
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (a *slogHCLog) Log(level hclog.Level, msg string, args ...interface{}) {
	if level == hclog.Off {
		return
	}
	a.l.Log(context.Background(), toSlogLevel(level), msg, structured(args)...)
}

// structured turns hclog's value wrappers into plain values, so that every record is a
// proper key/value record: hclog.Fmt("%+v", servers) would otherwise reach slog as a
// slice holding the format string and the servers.
func structured(args []interface{}) []interface{} {
	var out []interface{}
	for i, v := range args {
		nv := plainValue(v)
		if out == nil && nv != v {
			out = append(make([]interface{}, 0, len(args)), args[:i]...)
		}
		if out != nil {
			out = append(out, nv)
		}
	}
	if out == nil {
		return args
	}
	return out
}

func plainValue(v interface{}) interface{} {
	switch x := v.(type) {
	case hclog.Format:
		if len(x) == 1 || len(x) == 2 {
			if servers, ok := x[len(x)-1].([]raft.Server); ok {
				return serversString(servers)
			}
		}
		if len(x) > 0 {
			if f, ok := x[0].(string); ok {
				return fmt.Sprintf(f, x[1:]...)
			}
		}
		return fmt.Sprint([]interface{}(x)...)
	case hclog.Hex:
		return "0x" + strconv.FormatInt(int64(x), 16)
	case hclog.Octal:
		return "0" + strconv.FormatInt(int64(x), 8)
	case hclog.Binary:
		return "0b" + strconv.FormatInt(int64(x), 2)
	case hclog.Quote:
		return string(x)
	case []raft.Server:
		return serversString(x)
	case raft.Configuration:
		return serversString(x.Servers)
	}
	return v
}

// serversString renders a raft configuration as id=address pairs, non-voters marked.
func serversString(servers []raft.Server) string {
	var b strings.Builder
	for i, s := range servers {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(string(s.ID) + "=" + string(s.Address))
		if s.Suffrage != raft.Voter {
			b.WriteString("(" + s.Suffrage.String() + ")")
		}
	}
	return b.String()
}

func (a *slogHCLog) Trace(msg string, args ...interface{}) { a.Log(hclog.Trace, msg, args...) }
func (a *slogHCLog) Debug(msg string, args ...interface{}) { a.Log(hclog.Debug, msg, args...) }
func (a *slogHCLog) Info(msg string, args ...interface{})  { a.Log(hclog.Info, msg, args...) }
func (a *slogHCLog) Warn(msg string, args ...interface{})  { a.Log(hclog.Warn, msg, args...) }
func (a *slogHCLog) Error(msg string, args ...interface{}) { a.Log(hclog.Error, msg, args...) }

func (a *slogHCLog) enabled(l slog.Level) bool { return a.l.Enabled(context.Background(), l) }
func (a *slogHCLog) IsTrace() bool             { return a.enabled(levelTrace) }
func (a *slogHCLog) IsDebug() bool             { return a.enabled(slog.LevelDebug) }
func (a *slogHCLog) IsInfo() bool              { return a.enabled(slog.LevelInfo) }
func (a *slogHCLog) IsWarn() bool              { return a.enabled(slog.LevelWarn) }
func (a *slogHCLog) IsError() bool             { return a.enabled(slog.LevelError) }

func (a *slogHCLog) ImpliedArgs() []interface{} { return a.implied }

func (a *slogHCLog) With(args ...interface{}) hclog.Logger {
	return derive(a.base.With(structured(args)...), a.name, append(append([]interface{}{}, a.implied...), args...))
}

func (a *slogHCLog) Name() string { return a.name }

func (a *slogHCLog) Named(name string) hclog.Logger {
	if a.name != "" {
		name = a.name + "." + name
	}
	return derive(a.base, name, a.implied)
}

func (a *slogHCLog) ResetNamed(name string) hclog.Logger {
	return derive(a.base, name, a.implied)
}

func (a *slogHCLog) SetLevel(hclog.Level) {}

func (a *slogHCLog) GetLevel() hclog.Level {
	switch {
	case a.IsTrace():
		return hclog.Trace
	case a.IsDebug():
		return hclog.Debug
	case a.IsInfo():
		return hclog.Info
	case a.IsWarn():
		return hclog.Warn
	}
	return hclog.Error
}

func (a *slogHCLog) StandardLogger(opts *hclog.StandardLoggerOptions) *log.Logger {
	return log.New(a.StandardWriter(opts), "", 0)
}

// StandardWriter serves libraries that log through the standard logger: each
// line is logged at the level it announces ("[WARN] ...") when InferLevels
// is set, else at Info.
func (a *slogHCLog) StandardWriter(opts *hclog.StandardLoggerOptions) io.Writer {
	infer := opts != nil && opts.InferLevels
	return writerFunc(func(p []byte) (int, error) {
		line := strings.TrimRight(string(p), "\n")
		level := hclog.Info
		if infer {
			level, line = inferLevel(line)
		}
		a.Log(level, line)
		return len(p), nil
	})
}

func inferLevel(line string) (hclog.Level, string) {
	for _, p := range []struct {
		prefix string
		level  hclog.Level
	}{
		{"[TRACE]", hclog.Trace}, {"[DEBUG]", hclog.Debug}, {"[INFO]", hclog.Info},
		{"[WARN]", hclog.Warn}, {"[ERROR]", hclog.Error}, {"[ERR]", hclog.Error},
	} {
		if rest, ok := strings.CutPrefix(line, p.prefix); ok {
			return p.level, strings.TrimSpace(rest)
		}
	}
	return hclog.Info, line
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
