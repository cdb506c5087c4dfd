package tlsconf

import "errors"

var (
	// ErrNoCertificate: TLS was asked for (an https:// URL) without a certificate and key
	// or auto-TLS.
	ErrNoCertificate = errors.New("tlsconf: TLS needs a certificate and key file, or auto-TLS")
	// ErrNoTrustedCA: client-certificate authentication was asked for without a CA to
	// verify the certificates against.
	ErrNoTrustedCA = errors.New("tlsconf: client certificate authentication needs a trusted CA file")
	// ErrUnknownCipher: a cipher suite name that Go's crypto/tls (and etcd) do not know.
	ErrUnknownCipher = errors.New("tlsconf: unknown cipher suite")
	// ErrUnknownVersion: a TLS version other than TLS1.2 and TLS1.3.
	ErrUnknownVersion = errors.New("tlsconf: unknown TLS version")
	// ErrRevoked: the other side's certificate is listed in the CRL.
	ErrRevoked = errors.New("tlsconf: certificate revoked")
	// ErrCNNotAllowed: the other side's certificate has another common name than the allowed one.
	ErrCNNotAllowed = errors.New("tlsconf: certificate common name not allowed")
	// ErrHostnameNotAllowed: the other side's certificate is not valid for the allowed hostname.
	ErrHostnameNotAllowed = errors.New("tlsconf: certificate hostname not allowed")
)
