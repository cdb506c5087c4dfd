package quorum

import (
	"errors"
	"net/netip"
	"testing"
)

func TestParsePeers(t *testing.T) {
	got, fam, err := parsePeers([]string{"10.0.0.1", "10.0.0.2:7000", " 10.0.0.1:2381 "}, DefaultPort)
	if err != nil {
		t.Fatal(err)
	}
	want := []netip.AddrPort{netip.MustParseAddrPort("10.0.0.1:2381"), netip.MustParseAddrPort("10.0.0.2:7000")}
	if fam != 4 || len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("got %v family %d, want %v family 4 (duplicates removed)", got, fam, want)
	}

	got, fam, err = parsePeers([]string{"::1", "[::1]:9", "[fe80::2]"}, 42)
	if err != nil {
		t.Fatal(err)
	}
	if fam != 6 || got[0] != netip.MustParseAddrPort("[::1]:42") || got[1] != netip.MustParseAddrPort("[::1]:9") ||
		got[2] != netip.MustParseAddrPort("[fe80::2]:42") {
		t.Fatalf("got %v family %d", got, fam)
	}
}

func TestParsePeersErrors(t *testing.T) {
	if _, _, err := parsePeers(nil, DefaultPort); !errors.Is(err, ErrNoPeers) {
		t.Errorf("empty list: err %v, want ErrNoPeers", err)
	}
	if _, _, err := parsePeers([]string{"127.0.0.1", "::1"}, DefaultPort); !errors.Is(err, ErrMixedFamilies) {
		t.Errorf("mixed: err %v, want ErrMixedFamilies", err)
	}
	for _, bad := range []string{"", "10.0.0.1:0", "10.0.0.1:x", "10.0.0.1:70000", "no-such-host.invalid"} {
		if _, _, err := parsePeers([]string{bad}, DefaultPort); err == nil {
			t.Errorf("peer %q accepted", bad)
		}
	}
}
