package client

import (
	"context"
	"net/http"
)

// CreateInOrder creates a key under dir whose name sorts after every key created that way
// before (etcd's in-order keys: POST on the directory, the name is the store index), with value
// and, optionally, WithTTL. The answer's Node.Key is the new key.
func (s *Session) CreateInOrder(ctx context.Context, dir, value string, options ...PutOption) (*Response, error) {
	f := collect(options).writeForm()
	f.Set("value", value)
	return s.keyOp(ctx, request{method: http.MethodPost, path: keyPath(dir, nil), body: f, write: true})
}
