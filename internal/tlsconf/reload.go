package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"sync"
)

// fileValue is a value parsed from files and parsed again when any of them changes: a new
// inode (renamed over, as deployment tools do), a new size or a new modification time
// (written over). Checking costs a stat per file and handshake, which keeps rotation
// immediate without a watcher goroutine or a signal.
//
// A change that does not parse (a file half written, a certificate renewed before its key)
// keeps the last good value, and is tried again on the next handshake.
type fileValue[T any] struct {
	paths []string
	parse func() (T, error)
	log   *slog.Logger

	mu     sync.Mutex
	val    T
	stats  []os.FileInfo
	failed []os.FileInfo // the files as they were when they last failed to parse
}

func newFileValue[T any](log *slog.Logger, parse func() (T, error), paths ...string) (*fileValue[T], error) {
	f := &fileValue[T]{paths: paths, parse: parse, log: log}
	if _, err := f.get(); err != nil {
		return nil, err
	}
	return f, nil
}

func (f *fileValue[T]) get() (T, error) {
	stats := make([]os.FileInfo, len(f.paths))
	var statErr error
	for i, p := range f.paths {
		stats[i], statErr = os.Stat(p)
		if statErr != nil {
			break
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.stats != nil && (statErr != nil || sameFiles(f.stats, stats)) {
		// A file missing for a moment (between an unlink and a rename) keeps the old value.
		return f.val, nil
	}
	if statErr != nil {
		var zero T
		return zero, statErr
	}
	if f.failed != nil && sameFiles(f.failed, stats) {
		return f.val, nil // already reported; wait for the next change
	}
	v, err := f.parse()
	if err != nil {
		if f.stats != nil {
			f.failed = stats
			f.log.Warn("TLS files changed but do not load; the previous ones stay in use", "files", f.paths, "err", err)
			return f.val, nil
		}
		return v, err
	}
	if f.stats != nil {
		f.log.Info("TLS files re-read for new connections", "files", f.paths)
	}
	f.val, f.stats, f.failed = v, stats, nil
	return v, nil
}

func sameFiles(a, b []os.FileInfo) bool {
	for i := range a {
		if !os.SameFile(a[i], b[i]) || a[i].Size() != b[i].Size() || !a[i].ModTime().Equal(b[i].ModTime()) {
			return false
		}
	}
	return true
}

func newKeyPair(log *slog.Logger, certFile, keyFile string) (*fileValue[*tls.Certificate], error) {
	return newFileValue(log, func() (*tls.Certificate, error) {
		c, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("loading %s and %s: %v", certFile, keyFile, err)
		}
		return &c, nil
	}, certFile, keyFile)
}

// revocations are a CRL's revoked serial numbers, with the issuer they belong to.
type revocations struct {
	issuer     []byte // raw subject of the CRL's issuer
	issuerName string // the same, compared when another tool encoded the names differently
	serials    map[string]bool
}

func newCRL(log *slog.Logger, path string) (*fileValue[*revocations], error) {
	return newFileValue(log, func() (*revocations, error) {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, err
		}
		if p, _ := pem.Decode(b); p != nil {
			b = p.Bytes
		}
		crl, err := x509.ParseRevocationList(b)
		if err != nil {
			return nil, fmt.Errorf("reading CRL %s: %v", path, err)
		}
		r := &revocations{issuer: crl.RawIssuer, issuerName: crl.Issuer.String(), serials: map[string]bool{}}
		for _, e := range crl.RevokedCertificateEntries {
			r.serials[e.SerialNumber.String()] = true
		}
		return r, nil
	}, path)
}

func (r *revocations) revoked(c *x509.Certificate) bool {
	if !r.serials[serial(c.SerialNumber)] {
		return false
	}
	return string(c.RawIssuer) == string(r.issuer) || c.Issuer.String() == r.issuerName
}

func serial(n *big.Int) string { return n.String() }
