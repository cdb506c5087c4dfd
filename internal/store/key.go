package store

import (
	"strings"
	"unicode/utf8"
)

// ValidateKey reports whether key is a path the store accepts: absolute, valid
// UTF-8, no NUL, and no empty, "." or ".." element. A single trailing "/" is
// accepted and ignored because etcd clients send directory keys that way; the
// store never cleans a path any further, so that a malformed key is refused
// rather than silently turned into a different one.
func ValidateKey(key string) error {
	_, err := cleanKey(key)
	if err != nil {
		return err
	}
	return nil
}

// cleanKey validates key and returns it without its trailing "/" (except for
// the root itself). Error.Index is left 0: callers fill in the store index.
func cleanKey(key string) (string, *Error) {
	orig := key
	if key == "" || key[0] != '/' {
		return "", newError(ErrInvalidKey, key, 0)
	}
	if !utf8.ValidString(key) || strings.IndexByte(key, 0) >= 0 {
		return "", newError(ErrInvalidKey, key, 0)
	}
	if key == "/" {
		return key, nil
	}
	if key[len(key)-1] == '/' {
		key = key[:len(key)-1] // "//" becomes "/", refused as an empty element below
	}
	rest := key[1:]
	for {
		elem := rest
		i := strings.IndexByte(rest, '/')
		if i >= 0 {
			elem = rest[:i]
		}
		if elem == "" || elem == "." || elem == ".." {
			return "", newError(ErrInvalidKey, orig, 0)
		}
		if i < 0 {
			return key, nil
		}
		rest = rest[i+1:]
	}
}

// splitParent splits a clean, non-root key into its parent path and last name.
func splitParent(key string) (parent, name string) {
	i := strings.LastIndexByte(key, '/')
	if i == 0 {
		return "/", key[1:]
	}
	return key[:i], key[i+1:]
}

// joinPath joins a clean parent path and a child name.
func joinPath(parent, name string) string {
	if parent == "/" {
		return "/" + name
	}
	return parent + "/" + name
}

// isUnder reports whether child lies strictly below dir (both clean).
func isUnder(child, dir string) bool {
	if dir == "/" {
		return len(child) > 1
	}
	return len(child) > len(dir) && child[len(dir)] == '/' && child[:len(dir)] == dir
}

// hiddenBelow reports whether key, which lies strictly below watched, passes
// through a hidden element ("_" prefix) after watched: such events are not
// shown to recursive watchers of watched.
func hiddenBelow(watched, key string) bool {
	rest := key[len(watched):]
	if watched == "/" {
		rest = key
	}
	return strings.Contains(rest, "/_")
}
