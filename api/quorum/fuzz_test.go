package quorum

import (
	"bytes"
	"testing"
)

const fuzzKey = "fuzz-key"

func fuzzSeeds(f *testing.F) {
	c := testCodec(f, fuzzKey)
	for _, r := range []Request{
		{Type: QueryPing},
		{Timestamp: 1 << 62, Type: QueryKey, Query: "/some/key"},
		{Type: QueryNodeRole, Query: "node-1"},
		{Type: 200, Query: string(make([]byte, 300))},
	} {
		b, _ := c.AppendRequest(nil, &r)
		f.Add(b)
	}
	for _, r := range []Reply{
		{Status: StatusOK, Index: 7, Node: "n1", Answer: []byte(`{"key":"/a","found":false}`)},
		{Status: StatusError, Node: "", Answer: nil},
	} {
		b, _ := c.AppendReply(nil, &r)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte(Magic))
	f.Add([]byte(Magic + "\x01\x01"))
	f.Add([]byte(Magic + "\x02\x01garbage"))
}

// FuzzDecodeRequest feeds arbitrary bytes to the request decoder. The fuzzer can rarely
// forge a MAC, so it also re-signs each input to reach the body parser.
func FuzzDecodeRequest(f *testing.F) {
	fuzzSeeds(f)
	c := testCodec(f, fuzzKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, pkt := range [][]byte{b, resign(c, b)} {
			var r Request
			if err := c.DecodeRequest(pkt, &r); err != nil {
				continue
			}
			if len(r.Query) > len(pkt) {
				t.Fatalf("query of %d bytes from a %d-byte packet", len(r.Query), len(pkt))
			}
			again, err := c.AppendRequest(nil, &r)
			if err != nil || !bytes.Equal(again, pkt) {
				t.Fatalf("accepted packet does not re-encode to itself")
			}
		}
	})
}

// FuzzDecodeReply does the same for replies, which clients decode.
func FuzzDecodeReply(f *testing.F) {
	fuzzSeeds(f)
	c := testCodec(f, fuzzKey)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, pkt := range [][]byte{b, resign(c, b)} {
			var r Reply
			if err := c.DecodeReply(pkt, &r); err != nil {
				continue
			}
			if len(r.Node)+len(r.Answer) > len(pkt) {
				t.Fatalf("fields of %d bytes from a %d-byte packet", len(r.Node)+len(r.Answer), len(pkt))
			}
			again, err := c.AppendReply(nil, &r)
			if err != nil || !bytes.Equal(again, pkt) {
				t.Fatalf("accepted packet does not re-encode to itself")
			}
		}
	})
}

// resign replaces b's last MACSize bytes with a valid MAC so the fuzzer explores the
// parser behind the signature check.
func resign(c *Codec, b []byte) []byte {
	if len(b) < MACSize {
		return b
	}
	body := append([]byte(nil), b[:len(b)-MACSize]...)
	return c.sign(body, 0)
}
