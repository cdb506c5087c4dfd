package relay

// A connection's requests run on workers that outlive their request, so that the next one runs
// on a goroutine whose stack has already grown to what a write takes: a goroutine per frame paid
// for growing and copying its stack on every request, about 5% of a leader's CPU under 64
// writers (docs/performance.md).

// maxIdleWorkers bounds the goroutines a connection keeps waiting for its next request.
const maxIdleWorkers = 128

type job struct {
	id  uint64
	req *Request
}

// dispatch hands a request to one of the connection's idle workers, or to a new one when none
// waits: a handler that blocks (a write waiting for its commit) never holds up the next frame.
func (sc *serverConn) dispatch(j job) {
	select {
	case sc.jobs <- j:
	default:
		sc.wg.Add(1)
		go sc.worker(j)
	}
}

// worker answers j, then waits for further requests while the connection lives and fewer than
// maxIdleWorkers others wait, so a burst's goroutines do not all stay behind.
func (sc *serverConn) worker(j job) {
	defer sc.wg.Done()
	for {
		sc.handle(j.id, j.req)
		if sc.idle.Add(1) > maxIdleWorkers {
			sc.idle.Add(-1)
			return
		}
		select {
		case j = <-sc.jobs:
			sc.idle.Add(-1)
		case <-sc.ctx.Done():
			sc.idle.Add(-1)
			return
		}
	}
}
