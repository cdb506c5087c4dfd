package httpapi

import (
	"encoding/json"
	"net/http"
)

// serveWatch holds a long poll (or a stream) open until an event arrives or the client leaves.
// The headers go out as soon as the watcher is registered, so a client knows the index its
// watch started from; a client that hangs up frees its watcher at once.
func (h *Handler) serveWatch(w http.ResponseWriter, r *http.Request, kr *keysRequest) {
	st := h.b.Store()
	wt, err := st.Watch(kr.key, kr.recursive, kr.stream, kr.waitIndex)
	if err != nil {
		writeKeyError(w, err)
		return
	}
	defer wt.Remove()
	h.metrics.set.Watchers.Inc()
	defer h.metrics.set.Watchers.Dec()

	h.setRaftHeaders(w, wt.StartIndex())
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		fl.Flush()
	}
	if r.Method == http.MethodHead {
		return
	}
	enc := json.NewEncoder(w)
	ch := wt.EventChan()
	for {
		select {
		case <-r.Context().Done():
			return
		case ev, ok := <-ch:
			if !ok {
				// Dropped (a slow stream, or a snapshot restore): ending the response is the
				// signal; the client re-watches from its last index and gets the events or a 401.
				return
			}
			if err := enc.Encode(ev); err != nil {
				return
			}
			if fl != nil {
				fl.Flush()
			}
			if !kr.stream {
				return
			}
		}
	}
}
