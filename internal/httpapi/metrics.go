package httpapi

import (
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/cairn-io/cairn/internal/metrics"
	"github.com/prometheus/client_golang/prometheus"
)

// Keys operations, as etcd v2 labels them (QGET: a GET with quorum=true) and as Cairn's own
// latency histogram does (lower case).
var keysOps = [...]string{"GET", "QGET", "PUT", "POST", "DELETE"}

const (
	opGet = iota
	opQGet
	opPut
	opPost
	opDelete
)

func keysOp(method string, quorum bool) int {
	switch method {
	case http.MethodPut:
		return opPut
	case http.MethodPost:
		return opPost
	case http.MethodDelete:
		return opDelete
	}
	if quorum {
		return opQGet
	}
	return opGet
}

// opMetrics holds one operation's children, resolved once: a label lookup per request costs a
// hash and a lock on the hot path.
type opMetrics struct {
	received   prometheus.Counter
	successful prometheus.Observer
	byStatus   sync.Map // status code -> *statusMetrics
}

type statusMetrics struct {
	latency prometheus.Observer
	failed  prometheus.Counter // nil below 400
}

type httpMetrics struct {
	set *metrics.Set
	ops [len(keysOps)]opMetrics
}

func newHTTPMetrics(set *metrics.Set) *httpMetrics {
	if set == nil {
		set = metrics.New()
	}
	m := &httpMetrics{set: set}
	for i, op := range keysOps {
		m.ops[i].received = set.HTTPReceived.WithLabelValues(op)
		m.ops[i].successful = set.HTTPSuccessful.WithLabelValues(op)
	}
	return m
}

func (m *httpMetrics) status(op, code int) *statusMetrics {
	o := &m.ops[op]
	if v, ok := o.byStatus.Load(code); ok {
		return v.(*statusMetrics)
	}
	s := strconv.Itoa(code)
	sm := &statusMetrics{latency: m.set.RequestDuration.WithLabelValues(lower(keysOps[op]), s)}
	if code >= 400 {
		sm.failed = m.set.HTTPFailed.WithLabelValues(keysOps[op], s)
	}
	v, _ := o.byStatus.LoadOrStore(code, sm)
	return v.(*statusMetrics)
}

func lower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// observe records one finished keys request (not a watch) the way etcd v2 does, plus Cairn's
// latency by operation and status.
func (m *httpMetrics) observe(op, code int, start time.Time) {
	d := time.Since(start).Seconds()
	sm := m.status(op, code)
	sm.latency.Observe(d)
	if sm.failed != nil {
		sm.failed.Inc()
		return
	}
	m.ops[op].successful.Observe(d)
}

// recorders are reused: a keys request is answered before its handler returns, so nothing
// holds a recorder after putRecorder, and the hot path allocates none.
var recorders = sync.Pool{New: func() any { return new(statusRecorder) }}

func getRecorder(w http.ResponseWriter) *statusRecorder {
	rec := recorders.Get().(*statusRecorder)
	rec.ResponseWriter, rec.code = w, 0
	return rec
}

func putRecorder(rec *statusRecorder) {
	rec.ResponseWriter = nil
	recorders.Put(rec)
}

// statusRecorder remembers the status a handler wrote, for the metrics and the request log.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(p)
}

func (s *statusRecorder) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}
