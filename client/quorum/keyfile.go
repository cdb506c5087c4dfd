package quorum

import wire "github.com/cairn-io/cairn/api/quorum"

// LoadKey reads the shared HMAC key from path, as every member does (api/quorum.LoadKey):
// surrounding whitespace is removed, and a missing, unreadable or empty file is an error naming
// the file.
func LoadKey(path string) ([]byte, error) { return wire.LoadKey(path) }
