// Package directory checks external credentials against an LDAP directory:
// it finds the user with a search filter, binds as that user with the given
// password, and reads the user's groups, which Cairn maps to roles of the
// same name. Successful checks are remembered for at most a TTL, so a disabled
// account stops working within it.
//
// It only ever talks to the directory over TLS (ldaps:// or StartTLS), never
// stores a password or a hash of one beyond the TTL, and never decides
// permissions: callers map groups to roles.
package directory
