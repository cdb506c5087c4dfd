// Package tlsconf is the one place where Cairn builds a *tls.Config: for the client port, for
// the peer port's listener and for the peer connections a member dials. It turns etcd-style
// settings (certificate and key files, trusted CA, client-certificate authentication, CRL,
// allowed CN and hostname, cipher suites, protocol versions, auto-TLS) into configurations
// that re-read the certificate, key and CRL files when they change, so renewed files take
// effect for new handshakes without a restart while open connections go on.
//
// It owns the sentinel errors of those conditions and the accessor that reads a verified
// client certificate's identity off a request. It must never listen, dial or decide what a
// certificate's identity is allowed to do: that is the callers' (and authorization's) job.
package tlsconf
