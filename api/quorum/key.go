package quorum

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// DefaultPort is the quorum UDP port a member listens on, and a peer given without a port is
// assumed to listen on.
const DefaultPort = 2381

// LoadKey reads the shared HMAC key from path (the file named by --quorum-hmac-key-file).
// Surrounding whitespace is removed so that a key written with `echo secret > file` works
// the same on every member. A missing, unreadable or empty file is an error naming the file:
// a node or client without a usable key must not start.
func LoadKey(path string) ([]byte, error) {
	if path == "" {
		return nil, errors.New("quorum: no HMAC key file given")
	}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("quorum: HMAC key file %q does not exist", path)
	case err != nil:
		return nil, fmt.Errorf("quorum: cannot read HMAC key file %q: %w", path, err)
	}
	key := bytes.TrimSpace(b)
	if len(key) == 0 {
		return nil, fmt.Errorf("quorum: HMAC key file %q is empty", path)
	}
	return key, nil
}
