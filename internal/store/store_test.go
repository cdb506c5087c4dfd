package store

import (
	"errors"
	"testing"
	"time"
)

// seed builds the tree most error cases run against:
// /f=v (index 1), /d (2), /d/x=1 (3), /e (empty dir, 4).
func seed(t *testing.T) *Store {
	t.Helper()
	s := New()
	mustSet(t, s, "/f", "v")
	if _, err := s.Set("/d/x", false, "1", TTLOptions{}, t0); err != nil {
		t.Fatal(err)
	}
	// /d was created with /d/x at index 2; one more to make /e index 3.
	if _, err := s.Set("/e", true, "", TTLOptions{}, t0); err != nil {
		t.Fatal(err)
	}
	return s
}

func TestErrors(t *testing.T) {
	tests := []struct {
		name     string
		op       func(s *Store) error
		sentinel error
		cause    string
	}{
		{"get missing", func(s *Store) error { _, err := s.Get("/nope", false, false, t0); return err }, ErrKeyNotFound, "/nope"},
		{"get missing parent reports first missing element", func(s *Store) error { _, err := s.Get("/nope/a/b", false, false, t0); return err }, ErrKeyNotFound, "/nope"},
		{"get below a file", func(s *Store) error { _, err := s.Get("/f/a/b", false, false, t0); return err }, ErrNotDir, "/f"},
		{"get invalid key", func(s *Store) error { _, err := s.Get("/a//b", false, false, t0); return err }, ErrInvalidKey, "/a//b"},

		{"set value on dir", func(s *Store) error { _, err := s.Set("/d", false, "x", TTLOptions{}, t0); return err }, ErrNotFile, "/d"},
		{"mkdir on existing dir", func(s *Store) error { _, err := s.Set("/e", true, "", TTLOptions{}, t0); return err }, ErrNotFile, "/e"},
		{"set below a file", func(s *Store) error { _, err := s.Set("/f/x/y", false, "x", TTLOptions{}, t0); return err }, ErrNotDir, "/f"},
		{"set root", func(s *Store) error { _, err := s.Set("/", true, "", TTLOptions{}, t0); return err }, ErrRootReadOnly, "/"},
		{"set refresh on missing", func(s *Store) error {
			_, err := s.Set("/nope", false, "", TTLOptions{ExpireTime: at(time.Second), Refresh: true}, t0)
			return err
		}, ErrKeyNotFound, "/nope"},
		{"set invalid key", func(s *Store) error { _, err := s.Set("a", false, "x", TTLOptions{}, t0); return err }, ErrInvalidKey, "a"},

		{"create existing file", func(s *Store) error { _, err := s.Create("/f", false, "x", false, TTLOptions{}, t0); return err }, ErrNodeExist, "/f"},
		{"create existing dir", func(s *Store) error { _, err := s.Create("/d", true, "", false, TTLOptions{}, t0); return err }, ErrNodeExist, "/d"},
		{"create below a file", func(s *Store) error { _, err := s.Create("/f/x", false, "x", false, TTLOptions{}, t0); return err }, ErrNotDir, "/f"},
		{"create unique below a file", func(s *Store) error { _, err := s.Create("/f", false, "x", true, TTLOptions{}, t0); return err }, ErrNotDir, "/f"},
		{"create root", func(s *Store) error { _, err := s.Create("/", true, "", false, TTLOptions{}, t0); return err }, ErrRootReadOnly, "/"},

		{"update missing", func(s *Store) error { _, err := s.Update("/nope", "x", TTLOptions{}, t0); return err }, ErrKeyNotFound, "/nope"},
		{"update dir with a value", func(s *Store) error { _, err := s.Update("/d", "x", TTLOptions{}, t0); return err }, ErrNotFile, "/d"},
		{"update root", func(s *Store) error { _, err := s.Update("/", "", TTLOptions{}, t0); return err }, ErrRootReadOnly, "/"},
		{"update invalid key", func(s *Store) error { _, err := s.Update("/a/../b", "x", TTLOptions{}, t0); return err }, ErrInvalidKey, "/a/../b"},

		{"cas missing", func(s *Store) error { _, err := s.CompareAndSwap("/nope", "a", 0, "x", TTLOptions{}, t0); return err }, ErrKeyNotFound, "/nope"},
		{"cas dir", func(s *Store) error { _, err := s.CompareAndSwap("/d", "a", 0, "x", TTLOptions{}, t0); return err }, ErrNotFile, "/d"},
		{"cas value", func(s *Store) error { _, err := s.CompareAndSwap("/f", "w", 0, "x", TTLOptions{}, t0); return err }, ErrTestFailed, "[w != v]"},
		{"cas index", func(s *Store) error { _, err := s.CompareAndSwap("/f", "", 7, "x", TTLOptions{}, t0); return err }, ErrTestFailed, "[7 != 1]"},
		{"cas both", func(s *Store) error { _, err := s.CompareAndSwap("/f", "w", 7, "x", TTLOptions{}, t0); return err }, ErrTestFailed, "[w != v] [7 != 1]"},
		{"cas value ok index bad", func(s *Store) error { _, err := s.CompareAndSwap("/f", "v", 7, "x", TTLOptions{}, t0); return err }, ErrTestFailed, "[7 != 1]"},
		{"cas index ok value bad", func(s *Store) error { _, err := s.CompareAndSwap("/f", "w", 1, "x", TTLOptions{}, t0); return err }, ErrTestFailed, "[w != v]"},
		{"cas root", func(s *Store) error { _, err := s.CompareAndSwap("/", "a", 0, "x", TTLOptions{}, t0); return err }, ErrRootReadOnly, "/"},

		{"delete missing", func(s *Store) error { _, err := s.Delete("/nope", false, false, t0); return err }, ErrKeyNotFound, "/nope"},
		{"delete dir without dir", func(s *Store) error { _, err := s.Delete("/e", false, false, t0); return err }, ErrNotFile, "/e"},
		{"delete non-empty dir", func(s *Store) error { _, err := s.Delete("/d", true, false, t0); return err }, ErrDirNotEmpty, "/d"},
		{"delete root", func(s *Store) error { _, err := s.Delete("/", true, true, t0); return err }, ErrRootReadOnly, "/"},
		{"delete below a file", func(s *Store) error { _, err := s.Delete("/f/x", false, false, t0); return err }, ErrNotDir, "/f"},

		{"cad missing", func(s *Store) error { _, err := s.CompareAndDelete("/nope", "a", 0, t0); return err }, ErrKeyNotFound, "/nope"},
		{"cad dir", func(s *Store) error { _, err := s.CompareAndDelete("/d", "a", 0, t0); return err }, ErrNotFile, "/d"},
		{"cad value", func(s *Store) error { _, err := s.CompareAndDelete("/f", "w", 0, t0); return err }, ErrTestFailed, "[w != v]"},
		{"cad index", func(s *Store) error { _, err := s.CompareAndDelete("/f", "", 9, t0); return err }, ErrTestFailed, "[9 != 1]"},
		{"cad both", func(s *Store) error { _, err := s.CompareAndDelete("/f", "w", 9, t0); return err }, ErrTestFailed, "[w != v] [9 != 1]"},
		{"cad root", func(s *Store) error { _, err := s.CompareAndDelete("/", "a", 0, t0); return err }, ErrRootReadOnly, "/"},

		{"watch invalid key", func(s *Store) error { _, err := s.Watch("/a\x00", false, false, 0); return err }, ErrInvalidKey, "/a\x00"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := seed(t)
			before := mustJSON(t, getAll(t, s))
			err := tc.op(s)
			wantErr(t, err, tc.sentinel, tc.cause, 3)
			if s.Index() != 3 {
				t.Fatalf("failed op moved the index to %d", s.Index())
			}
			if after := mustJSON(t, getAll(t, s)); after != before {
				t.Fatalf("failed op changed the tree\nbefore %s\nafter  %s", before, after)
			}
		})
	}
}

func getAll(t testing.TB, s *Store) *Event {
	t.Helper()
	e, err := s.Get("/", true, true, t0)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestOperations(t *testing.T) {
	tests := []struct {
		name string
		op   func(s *Store) (*Event, error)
		want string
		tree string // the whole tree afterwards, when it matters
	}{
		{"set creates missing parents at the new index",
			func(s *Store) (*Event, error) { return s.Set("/a/b/c", false, "v", TTLOptions{}, t0) },
			`{"action":"set","node":{"key":"/a/b/c","value":"v","modifiedIndex":4,"createdIndex":4}}`,
			`{"action":"get","node":{"dir":true,"nodes":[{"key":"/a","dir":true,"nodes":[{"key":"/a/b","dir":true,"nodes":[{"key":"/a/b/c","value":"v","modifiedIndex":4,"createdIndex":4}],"modifiedIndex":4,"createdIndex":4}],"modifiedIndex":4,"createdIndex":4},{"key":"/d","dir":true,"nodes":[{"key":"/d/x","value":"1","modifiedIndex":2,"createdIndex":2}],"modifiedIndex":2,"createdIndex":2},{"key":"/e","dir":true,"modifiedIndex":3,"createdIndex":3},{"key":"/f","value":"v","modifiedIndex":1,"createdIndex":1}]}}`},
		{"set replaces a file with a directory",
			func(s *Store) (*Event, error) { return s.Set("/f", true, "", TTLOptions{}, t0) },
			`{"action":"set","node":{"key":"/f","dir":true,"modifiedIndex":4,"createdIndex":4},"prevNode":{"key":"/f","value":"v","modifiedIndex":1,"createdIndex":1}}`, ""},
		{"set with a trailing slash means the same key",
			func(s *Store) (*Event, error) { return s.Set("/f/", false, "w", TTLOptions{}, t0) },
			`{"action":"set","node":{"key":"/f","value":"w","modifiedIndex":4,"createdIndex":4},"prevNode":{"key":"/f","value":"v","modifiedIndex":1,"createdIndex":1}}`, ""},
		{"set empty value",
			func(s *Store) (*Event, error) { return s.Set("/g", false, "", TTLOptions{}, t0) },
			`{"action":"set","node":{"key":"/g","value":"","modifiedIndex":4,"createdIndex":4}}`, ""},
		{"set refresh keeps the value and replaces the node",
			func(s *Store) (*Event, error) {
				return s.Set("/f", false, "ignored", TTLOptions{ExpireTime: at(10 * time.Second), Refresh: true}, t0)
			},
			`{"action":"set","node":{"key":"/f","value":"v","expiration":"2026-11-22T02:17:10Z","ttl":10,"modifiedIndex":4,"createdIndex":4},"prevNode":{"key":"/f","value":"v","modifiedIndex":1,"createdIndex":1}}`, ""},
		{"create dir with ttl",
			func(s *Store) (*Event, error) {
				return s.Create("/n", true, "", false, ttlAt(1500*time.Millisecond), t0)
			},
			`{"action":"create","node":{"key":"/n","dir":true,"expiration":"2026-11-22T02:17:01.5Z","ttl":2,"modifiedIndex":4,"createdIndex":4}}`, ""},
		{"create unique on root",
			func(s *Store) (*Event, error) { return s.Create("/", false, "j", true, TTLOptions{}, t0) },
			`{"action":"create","node":{"key":"/00000000000000000004","value":"j","modifiedIndex":4,"createdIndex":4}}`, ""},
		{"create unique dir",
			func(s *Store) (*Event, error) { return s.Create("/q/", true, "", true, TTLOptions{}, t0) },
			`{"action":"create","node":{"key":"/q/00000000000000000004","dir":true,"modifiedIndex":4,"createdIndex":4}}`, ""},
		{"update a dir's ttl keeps its modifiedIndex (etcd 3.4)",
			func(s *Store) (*Event, error) { return s.Update("/e", "", ttlAt(time.Minute), t0) },
			`{"action":"update","node":{"key":"/e","dir":true,"expiration":"2026-11-22T02:18:00Z","ttl":60,"modifiedIndex":4,"createdIndex":3},"prevNode":{"key":"/e","dir":true,"modifiedIndex":3,"createdIndex":3}}`,
			`{"action":"get","node":{"dir":true,"nodes":[{"key":"/d","dir":true,"nodes":[{"key":"/d/x","value":"1","modifiedIndex":2,"createdIndex":2}],"modifiedIndex":2,"createdIndex":2},{"key":"/e","dir":true,"expiration":"2026-11-22T02:18:00Z","ttl":60,"modifiedIndex":3,"createdIndex":3},{"key":"/f","value":"v","modifiedIndex":1,"createdIndex":1}]}}`},
		{"cas by index with ttl",
			func(s *Store) (*Event, error) { return s.CompareAndSwap("/f", "", 1, "w", ttlAt(3*time.Second), t0) },
			`{"action":"compareAndSwap","node":{"key":"/f","value":"w","expiration":"2026-11-22T02:17:03Z","ttl":3,"modifiedIndex":4,"createdIndex":1},"prevNode":{"key":"/f","value":"v","modifiedIndex":1,"createdIndex":1}}`, ""},
		{"cas both given and matching",
			func(s *Store) (*Event, error) { return s.CompareAndSwap("/d/x", "1", 2, "2", TTLOptions{}, t0) },
			`{"action":"compareAndSwap","node":{"key":"/d/x","value":"2","modifiedIndex":4,"createdIndex":2},"prevNode":{"key":"/d/x","value":"1","modifiedIndex":2,"createdIndex":2}}`, ""},
		{"cas refresh keeps the value",
			func(s *Store) (*Event, error) {
				return s.CompareAndSwap("/f", "v", 0, "", TTLOptions{ExpireTime: at(time.Second), Refresh: true}, t0)
			},
			`{"action":"compareAndSwap","node":{"key":"/f","value":"v","expiration":"2026-11-22T02:17:01Z","ttl":1,"modifiedIndex":4,"createdIndex":1},"prevNode":{"key":"/f","value":"v","modifiedIndex":1,"createdIndex":1}}`, ""},
		{"delete empty dir with dir",
			func(s *Store) (*Event, error) { return s.Delete("/e", true, false, t0) },
			`{"action":"delete","node":{"key":"/e","dir":true,"modifiedIndex":4,"createdIndex":3},"prevNode":{"key":"/e","dir":true,"modifiedIndex":3,"createdIndex":3}}`, ""},
		{"delete recursive implies dir",
			func(s *Store) (*Event, error) { return s.Delete("/d", false, true, t0) },
			`{"action":"delete","node":{"key":"/d","dir":true,"modifiedIndex":4,"createdIndex":2},"prevNode":{"key":"/d","dir":true,"modifiedIndex":2,"createdIndex":2}}`,
			`{"action":"get","node":{"dir":true,"nodes":[{"key":"/e","dir":true,"modifiedIndex":3,"createdIndex":3},{"key":"/f","value":"v","modifiedIndex":1,"createdIndex":1}]}}`},
		{"delete a file with dir set",
			func(s *Store) (*Event, error) { return s.Delete("/f", true, false, t0) },
			`{"action":"delete","node":{"key":"/f","modifiedIndex":4,"createdIndex":1},"prevNode":{"key":"/f","value":"v","modifiedIndex":1,"createdIndex":1}}`, ""},
		{"cad by index",
			func(s *Store) (*Event, error) { return s.CompareAndDelete("/d/x", "", 2, t0) },
			`{"action":"compareAndDelete","node":{"key":"/d/x","modifiedIndex":4,"createdIndex":2},"prevNode":{"key":"/d/x","value":"1","modifiedIndex":2,"createdIndex":2}}`, ""},
		{"get non-recursive lists one level",
			func(s *Store) (*Event, error) { return s.Get("/", false, true, t0) },
			`{"action":"get","node":{"dir":true,"nodes":[{"key":"/d","dir":true,"modifiedIndex":2,"createdIndex":2},{"key":"/e","dir":true,"modifiedIndex":3,"createdIndex":3},{"key":"/f","value":"v","modifiedIndex":1,"createdIndex":1}]}}`, ""},
		{"get empty dir",
			func(s *Store) (*Event, error) { return s.Get("/e/", true, true, t0) },
			`{"action":"get","node":{"key":"/e","dir":true,"modifiedIndex":3,"createdIndex":3}}`, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := seed(t)
			e, err := tc.op(s)
			wantEvent(t, e, err, tc.want)
			if e.Action != Get && (e.EtcdIndex != 4 || s.Index() != 4) {
				t.Fatalf("EtcdIndex %d, store index %d; want 4", e.EtcdIndex, s.Index())
			}
			if tc.tree != "" {
				if got := mustJSON(t, getAll(t, s)); got != tc.tree {
					t.Fatalf("tree\n got %s\nwant %s", got, tc.tree)
				}
			}
		})
	}
}

func TestHiddenKeys(t *testing.T) {
	s := New()
	mustSet(t, s, "/_h", "1")
	mustSet(t, s, "/v/_h2", "2")
	mustSet(t, s, "/v/k", "3")
	mustSet(t, s, "/_hd/k", "4")
	e, err := s.Get("/", true, true, t0)
	wantEvent(t, e, err, `{"action":"get","node":{"dir":true,"nodes":[{"key":"/v","dir":true,"nodes":[{"key":"/v/k","value":"3","modifiedIndex":3,"createdIndex":3}],"modifiedIndex":2,"createdIndex":2}]}}`)
	// A hidden key is still readable by name, and so is a hidden dir's content.
	e, err = s.Get("/_hd", true, true, t0)
	wantEvent(t, e, err, `{"action":"get","node":{"key":"/_hd","dir":true,"nodes":[{"key":"/_hd/k","value":"4","modifiedIndex":4,"createdIndex":4}],"modifiedIndex":4,"createdIndex":4}}`)
	// A directory holding only hidden keys is not empty.
	_, err = s.Delete("/v", true, false, t0)
	wantErr(t, err, ErrDirNotEmpty, "/v", 4)
	if _, err2 := s.Delete("/v/k", false, false, t0); err2 != nil {
		t.Fatal(err2)
	}
	_, err = s.Delete("/v", true, false, t0)
	wantErr(t, err, ErrDirNotEmpty, "/v", 5)
}

func TestValidateKey(t *testing.T) {
	good := []string{"/", "/a", "/a/", "/a/b", "/_x", "/a.b", "/...", "/ü/ß", "/a b", "/00000000000000000019"}
	bad := []string{"", "a", "a/b", "//", "/a//b", "/a//", "/.", "/./a", "/a/..", "/a/../b", "/a/.", "/a\x00b", "/\xff", "/a/b//"}
	for _, k := range good {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v; want nil", k, err)
		}
	}
	for _, k := range bad {
		err := ValidateKey(k)
		if !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v; want ErrInvalidKey", k, err)
		}
	}
}

func TestUnsortedListingHasEveryChild(t *testing.T) {
	s := New()
	for _, k := range []string{"/d/c", "/d/a", "/d/b"} {
		mustSet(t, s, k, "v")
	}
	e, err := s.Get("/d", false, false, t0)
	if err != nil {
		t.Fatal(err)
	}
	sortNodes(e.Node.Nodes)
	if got := mustJSON(t, e.Node.Nodes); got != `[{"key":"/d/a","value":"v","modifiedIndex":2,"createdIndex":2},{"key":"/d/b","value":"v","modifiedIndex":3,"createdIndex":3},{"key":"/d/c","value":"v","modifiedIndex":1,"createdIndex":1}]` {
		t.Fatal(got)
	}
}

func TestErrorFormatting(t *testing.T) {
	_, err := New().Get("/x", false, false, t0)
	if got := err.Error(); got != "Key not found (/x) [0]" {
		t.Fatalf("Error() = %q", got)
	}
}

func TestInvalidKeyCauseIsTheKeyAsGiven(t *testing.T) {
	for _, k := range []string{"//", "/a//", "/a/./"} {
		_, err := New().Get(k, false, false, t0)
		wantErr(t, err, ErrInvalidKey, k, 0)
	}
}
