package quorum

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}

	key, err := LoadKey(write("good", "  s3cret\n"))
	if err != nil || string(key) != "s3cret" {
		t.Fatalf("LoadKey = %q, %v; want s3cret", key, err)
	}

	cases := []struct {
		name, path, want string
	}{
		{"no path", "", "no HMAC key file"},
		{"missing", filepath.Join(dir, "absent"), "does not exist"},
		{"empty", write("empty", ""), "is empty"},
		{"only whitespace", write("blank", " \n\t"), "is empty"},
		{"directory", dir, "cannot read"},
	}
	for _, tc := range cases {
		_, err := LoadKey(tc.path)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %v, want one containing %q", tc.name, err, tc.want)
		}
	}
}
