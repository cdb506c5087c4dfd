package httpapi

import (
	"net/http/httptest"
	"testing"
)

// setRaftHeaders runs for every keys answer, reads included: its three values cost two
// allocations, and each stays its own when a header is added to.
func TestSetRaftHeaders(t *testing.T) {
	f := newFake("n1")
	f.setApplied(4242)
	h := &Handler{b: f}
	w := httptest.NewRecorder()
	h.setRaftHeaders(w, 17)
	hd := w.Header()
	if hd.Get("X-Etcd-Index") != "17" || hd.Get("X-Raft-Index") != "4242" || hd.Get("X-Raft-Term") != "3" {
		t.Fatalf("headers %v", hd)
	}
	hd.Add("X-Etcd-Index", "18")
	if v := hd.Values("X-Raft-Index"); len(v) != 1 || v[0] != "4242" {
		t.Fatalf("adding to X-Etcd-Index changed X-Raft-Index: %q", v)
	}
	w = httptest.NewRecorder()
	hd = w.Header()
	allocs := testing.AllocsPerRun(200, func() {
		clear(hd)
		h.setRaftHeaders(w, 123456789)
	})
	if allocs > 2 {
		t.Fatalf("setRaftHeaders: %.1f allocations, want at most 2", allocs)
	}
}
