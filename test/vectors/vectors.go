// Package vectors reads the frozen byte vectors that pin Cairn's formats (raft log entries,
// snapshots, relay frames, quorum packets) for the tests next to each codec. A vector file,
// testdata/vectors/<name>.hex in the codec's package, holds hex digits, whitespace and
// #-comments. This package only reads them: it never writes or regenerates a vector, since a
// vector rewritten from today's encoder would freeze nothing.
package vectors

import (
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Dir is where a package's vectors live, relative to its directory (a test's working directory).
var Dir = filepath.Join("testdata", "vectors")

// Read returns the frozen bytes of vector name. When there is none it fails the test with
// today's bytes (now) in the message, so whoever adds a command type or frame kind writes its
// vector down on purpose.
func Read(t testing.TB, name string, now []byte) []byte {
	t.Helper()
	path := filepath.Join(Dir, name+".hex")
	text, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("no frozen vector %s (%v): a new encoding needs one; today's bytes are\n%s", path, err, Format(name, now))
	}
	b, err := Parse(string(text))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return b
}

// Parse decodes a vector file's text.
func Parse(text string) ([]byte, error) {
	var digits strings.Builder
	for _, line := range strings.Split(text, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		digits.WriteString(strings.Join(strings.Fields(line), ""))
	}
	return hex.DecodeString(digits.String())
}

// Format renders b as a vector file, 16 bytes a line under a comment naming it.
func Format(name string, b []byte) string {
	var sb strings.Builder
	sb.WriteString("# " + name + ": frozen bytes; never edit, add a new version instead\n")
	for i := 0; i < len(b); i += 16 {
		sb.WriteString(hex.EncodeToString(b[i:min(i+16, len(b))]) + "\n")
	}
	return sb.String()
}
