package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/cairn-io/cairn/api"
)

// Snapshot streams a backup of the cluster's state into w, from the leader when one is known,
// else from the first member that answers. The member takes it at an index no older than the
// call (a read barrier first), so every write acknowledged before the call is in it. progress,
// when not nil, is called as bytes arrive with the total (-1 if unknown). It returns the bytes
// written; a failure after some were written leaves w incomplete.
func (c *Cluster) Snapshot(ctx context.Context, w io.Writer, progress func(done, total int64)) (int64, error) {
	c.mu.RLock()
	var order []*node
	if l := c.nodes[c.leader]; l != nil {
		order = append(order, l)
	}
	for name, n := range c.nodes {
		if name != c.leader {
			order = append(order, n)
		}
	}
	c.mu.RUnlock()
	if len(order) == 0 {
		return 0, ErrNoNodes
	}
	var errs []error
	for _, n := range order {
		written, err := c.snapshotFrom(ctx, n, w, progress)
		if err == nil || written > 0 {
			return written, err
		}
		errs = append(errs, fmt.Errorf("%s: %w", n.name, err))
		if ctx.Err() != nil {
			break
		}
	}
	return 0, errors.Join(errs...)
}

func (c *Cluster) snapshotFrom(ctx context.Context, n *node, w io.Writer, progress func(done, total int64)) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, n.addr+api.SnapshotPath, nil)
	if err != nil {
		return 0, err
	}
	c.auth.authorize(req)
	resp, err := c.httpClient(n.tlsName).Do(req)
	if err != nil {
		return 0, c.tlsError(err, n.endpoint())
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, replyError(&reply{status: resp.StatusCode, header: resp.Header, body: body, node: n.name})
	}
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return 0, fmt.Errorf("GET %s: %s: %s", api.SnapshotPath, resp.Status, msg)
	}
	pw := &progressWriter{w: w, total: resp.ContentLength, fn: progress}
	written, err := io.Copy(pw, resp.Body)
	if err == nil && resp.ContentLength >= 0 && written != resp.ContentLength {
		err = fmt.Errorf("snapshot cut short: %d of %d bytes", written, resp.ContentLength)
	}
	return written, err
}

type progressWriter struct {
	w     io.Writer
	done  int64
	total int64
	fn    func(done, total int64)
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
	return n, err
}
