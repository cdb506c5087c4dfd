package tlsconf

import "net/http"

// ClientCommonName is the common name of the verified client certificate of r's connection:
// the identity a certificate carries, for authentication to map to a user. It reports false
// when the connection is plain, or the client sent no certificate that was verified against
// the trusted CA (an unverified certificate names no one).
func ClientCommonName(r *http.Request) (string, bool) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return "", false
	}
	return r.TLS.VerifiedChains[0][0].Subject.CommonName, true
}
