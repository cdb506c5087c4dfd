package vectors

import (
	"bytes"
	"testing"
)

func TestFormatParses(t *testing.T) {
	b := []byte("a vector of more than sixteen bytes\x00\xff")
	got, err := Parse(Format("x", b) + "# a trailing comment\n  ab cd # and an inline one\n")
	if err != nil {
		t.Fatal(err)
	}
	if want := append(b, 0xab, 0xcd); !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
	if _, err := Parse("0g"); err == nil {
		t.Fatal("a non-hex digit was accepted")
	}
}
