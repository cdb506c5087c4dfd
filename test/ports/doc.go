// Package ports hands tests loopback ports and retries what binds them. A port chosen while
// free and bound later (by a child process, or after a restart) can meanwhile be taken by
// another test's socket; the binding side then fails with "address already in use", and the
// caller tries again rather than failing the test. It never binds for its callers and never
// retries any other failure.
package ports
