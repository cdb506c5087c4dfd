// Package fastpath serves the plainest, hottest HTTP/1.1 requests of a listener on the
// connection's own goroutine, without net/http's per-request machinery (background reader,
// header cloning and sorting, chunk writer), and hands every connection that sends anything
// else to a net/http server, unread bytes included.
//
// It owns the connection loop, a strict parser for the subset it serves and the response
// framing of those requests. It must never guess: a request it does not fully understand
// (HTTP/1.0, Transfer-Encoding, Expect, Upgrade, a non-keep-alive Connection header, escapes in
// the target, an oversize header block or body, a method or path the caller does not mark fast)
// goes to net/http untouched, which then owns that connection for the rest of its life. The
// handler is the same http.Handler either way, so answers do not depend on the path taken.
//
// Behind a TLS listener it completes the handshake first and gives the handler the
// connection's TLS state on both paths (net/http alone would drop it for a handed-over
// connection), so the verified client certificate is seen wherever a request is served.
package fastpath
