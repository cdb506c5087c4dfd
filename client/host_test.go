package client

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseHosts(t *testing.T) {
	cases := []struct {
		in   string
		want []Host
	}{
		{"h1:2379,h2", []Host{{Name: "h1", Port: 2379}, {Name: "h2", Port: 4000}}},
		{" h1 , h2:1 ", []Host{{Name: "h1", Port: 4000}, {Name: "h2", Port: 1}}},
		{"[::1]:2379", []Host{{Name: "::1", Port: 2379}}},
		{"[fe80::1]", []Host{{Name: "fe80::1", Port: 4000}}},
		{"10.0.0.1:db.example:2380", []Host{{Name: "10.0.0.1", TLSName: "db.example", Port: 2380}}},
		{"[::1]:db.example:2380", []Host{{Name: "::1", TLSName: "db.example", Port: 2380}}},
	}
	for _, c := range cases {
		got, err := ParseHosts(c.in, 4000)
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("ParseHosts(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "h1,", "h1:x", "h1:", "h1:tls:x", "::1", "[::1", "[::1]x", "[]:1",
		"h:0", "h:65536", "a:b:c:1", "h1:2379,h2:port"} {
		if got, err := ParseHosts(bad, 4000); err == nil {
			t.Errorf("ParseHosts(%q) = %+v, want an error", bad, got)
		}
	}
	if _, err := ParseHosts("h1:abc", 1); err == nil || !strings.Contains(err.Error(), "not an integer") {
		t.Errorf("non-integer port error: %v", err)
	}
}

// FuzzParseHosts checks that whatever ParseHosts accepts, its rendering reads back the same.
func FuzzParseHosts(f *testing.F) {
	for _, s := range []string{"h1:2379,h2", "[::1]:2379", "a:b:3", "[::1]:t:1", "x", ":", "[", "h::1"} {
		f.Add(s, 2379)
	}
	f.Fuzz(func(t *testing.T, s string, port int) {
		hosts, err := ParseHosts(s, port)
		if err != nil {
			return
		}
		var parts []string
		for _, h := range hosts {
			if h.Port < 1 || h.Port > 65535 || h.Name == "" {
				t.Fatalf("ParseHosts(%q) accepted %+v", s, h)
			}
			parts = append(parts, h.String())
		}
		again, err := ParseHosts(strings.Join(parts, ","), 1)
		if err != nil || !reflect.DeepEqual(again, hosts) {
			t.Fatalf("round trip of %q: %+v -> %q -> %+v, %v", s, hosts, strings.Join(parts, ","), again, err)
		}
	})
}
