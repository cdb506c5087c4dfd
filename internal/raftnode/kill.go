package raftnode

import (
	"errors"
	"net"
)

// Kill stops the node the way a crash would, as far as its peers can tell: no leadership
// hand-off, connections dropped. What was fsynced stays; in-process test clusters use it.
func (n *Node) Kill() error {
	n.shutdownOnce.Do(func() {
		close(n.stopCh)
		n.abortSnapshots()
		// Close the peer port first so that peers see the node vanish at once.
		merr := n.mux.Close()
		err := n.raft.Shutdown().Error()
		n.trans.heartbeats.close() // as in Shutdown: no heartbeat may write to the stores closed below
		n.wg.Wait()
		if err == nil && merr != nil && !errors.Is(merr, net.ErrClosed) {
			err = merr
		}
		if cerr := n.bolt.Close(); err == nil {
			err = cerr
		}
		n.shutdownErr = err
	})
	return n.shutdownErr
}
