package fsm

import (
	"fmt"

	"github.com/cairn-io/cairn/internal/auth"
)

// AuthState is the auth state as of the last applied command. It is
// immutable; readers keep it as long as they like.
func (f *FSM) AuthState() *auth.State { return f.auth.Load() }

// AuthCommand wraps an auth change in the log's envelope.
func AuthCommand(c *auth.Command) (*Command, error) {
	b, err := c.MarshalBinary()
	if err != nil {
		return nil, err
	}
	return &Command{Type: CmdAuth, Value: string(b)}, nil
}

// applyAuth runs on the apply goroutine only, so the load-apply-store below
// never races with another writer.
func (f *FSM) applyAuth(c *Command, index uint64) Result {
	var ac auth.Command
	if err := ac.UnmarshalBinary([]byte(c.Value)); err != nil {
		return Result{Err: fmt.Errorf("%w: %v", ErrMalformed, err)}
	}
	next, res, err := f.auth.Load().Apply(&ac, index)
	if err != nil {
		return Result{Err: err}
	}
	f.auth.Store(next)
	return Result{Auth: res}
}
