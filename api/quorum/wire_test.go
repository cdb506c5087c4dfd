package quorum

import (
	"bytes"
	"errors"
	"testing"
)

func testCodec(t testing.TB, key string) *Codec {
	t.Helper()
	c, err := NewCodec([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewCodecRefusesEmptyKey(t *testing.T) {
	if _, err := NewCodec(nil); err == nil {
		t.Fatal("NewCodec(nil) succeeded; an empty key makes every MAC forgeable")
	}
}

func TestRequestRoundTrip(t *testing.T) {
	c := testCodec(t, "k")
	in := Request{Timestamp: -5, Type: QueryKey, Query: "/a/b"}
	copy(in.Salt[:], "0123456789abcdef")
	b, err := c.AppendRequest(nil, &in)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != MinRequestSize+len(in.Query) {
		t.Fatalf("size %d, want %d", len(b), MinRequestSize+len(in.Query))
	}
	var out Request
	if err := c.DecodeRequest(b, &out); err != nil {
		t.Fatal(err)
	}
	if out != in {
		t.Fatalf("got %+v, want %+v", out, in)
	}
}

func TestReplyRoundTrip(t *testing.T) {
	c := testCodec(t, "k")
	in := Reply{Status: StatusNotImplemented, Index: 1 << 40, Node: "n1", Answer: []byte(`"x"`)}
	copy(in.Salt[:], "fedcba9876543210")
	b, err := c.AppendReply([]byte("prefix"), &in)
	if err != nil {
		t.Fatal(err)
	}
	var out Reply
	if err := c.DecodeReply(b[len("prefix"):], &out); err != nil {
		t.Fatal(err)
	}
	if out.Salt != in.Salt || out.Status != in.Status || out.Index != in.Index ||
		out.Node != in.Node || !bytes.Equal(out.Answer, in.Answer) {
		t.Fatalf("got %+v, want %+v", out, in)
	}
}

func TestDecodeRejections(t *testing.T) {
	c := testCodec(t, "k")
	good, _ := c.AppendRequest(nil, &Request{Type: QueryPing})
	reply, _ := c.AppendReply(nil, &Reply{Node: "n"})
	other, _ := testCodec(t, "other").AppendRequest(nil, &Request{Type: QueryPing})

	mutate := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), good...)) }
	cases := []struct {
		name string
		pkt  []byte
		want error
	}{
		{"empty", nil, ErrGarbage},
		{"bad magic", mutate(func(b []byte) []byte { b[0] = 'X'; return b }), ErrGarbage},
		{"version", mutate(func(b []byte) []byte { b[4] = 2; return b }), ErrVersion},
		{"reply as request", reply, ErrKind},
		{"truncated", good[:len(good)-1], ErrGarbage},
		{"wrong key", other, ErrMAC},
		{"flipped body bit", mutate(func(b []byte) []byte { b[10] ^= 1; return b }), ErrMAC},
		{"trailing byte", mutate(func(b []byte) []byte { return append(b, 0) }), ErrMAC},
	}
	for _, tc := range cases {
		var r Request
		if err := c.DecodeRequest(tc.pkt, &r); !errors.Is(err, tc.want) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.want)
		}
	}
}

// A correctly signed packet whose length fields lie must still be refused: the MAC proves
// who sent it, not that it is well formed.
func TestDecodeRejectsSignedInconsistentLengths(t *testing.T) {
	c := testCodec(t, "k")
	b, _ := c.AppendRequest(nil, &Request{Type: QueryKey, Query: "/abc"})
	b = b[:len(b)-MACSize]
	b[headerSize+8+SaltSize+1+1] = 200 // query length now exceeds the packet
	b = c.sign(b, 0)
	var r Request
	if err := c.DecodeRequest(b, &r); !errors.Is(err, ErrGarbage) {
		t.Fatalf("err %v, want ErrGarbage", err)
	}

	rb, _ := c.AppendReply(nil, &Reply{Node: "n", Answer: []byte("a")})
	rb = rb[:len(rb)-MACSize]
	rb[headerSize+SaltSize+1+8+1] = 0xFF // node length beyond the packet
	rb = c.sign(rb, 0)
	var rep Reply
	if err := c.DecodeReply(rb, &rep); !errors.Is(err, ErrGarbage) {
		t.Fatalf("reply err %v, want ErrGarbage", err)
	}
}

func TestAppendRefusesOverlongFields(t *testing.T) {
	c := testCodec(t, "k")
	if _, err := c.AppendRequest(nil, &Request{Query: string(make([]byte, 0x10000))}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("request err %v, want ErrTooLong", err)
	}
	if _, err := c.AppendReply(nil, &Reply{Answer: make([]byte, MaxDatagram+1)}); !errors.Is(err, ErrTooLong) {
		t.Fatalf("reply err %v, want ErrTooLong", err)
	}
}

// Rejecting a packet must not allocate: servers drop floods of garbage.
func TestRejectionDoesNotAllocate(t *testing.T) {
	c := testCodec(t, "k")
	bad, _ := testCodec(t, "other").AppendRequest(nil, &Request{Type: QueryKey, Query: "/x"})
	var r Request
	allocs := testing.AllocsPerRun(100, func() { _ = c.DecodeRequest(bad, &r) })
	if allocs != 0 {
		t.Fatalf("rejecting a bad MAC allocated %.1f times per packet", allocs)
	}
}
