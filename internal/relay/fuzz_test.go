package relay

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"testing"
	"time"
)

// The peer port faces whatever connects to it: the leader decodes a follower's hello and
// frames, the follower decodes the leader's. These targets feed arbitrary bytes to each
// decoder: none may panic, allocate past the frame limit, or hand out more than it was given.

func fuzzFrames(f *testing.F) {
	f.Add(appendClientHello(nil, vectorCluster))
	f.Add(appendServerHello(nil, statusOK, vectorCluster, 1<<20))
	w := encodeRequest(&Request{Flags: 3, Timeout: time.Second, Body: []byte("body")})
	putID(w, 9)
	f.Add(w)
	f.Add(encodeRequest(&Request{Flags: flagReadIndex}))
	a, _ := encodeReply(5, &Reply{Status: 200, Fields: []Field{{"A", "b"}}, Body: []byte("x")})
	f.Add(a)
	f.Add(encodeIndexReply(6, 77, nil))
	f.Add(encodeIndexReply(6, 0, ErrNotLeader))
	f.Add(encodeIndexReply(6, 0, errors.New("lost")))
	f.Add(append(append([]byte{}, a...), w...))
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Add([]byte{})
}

const fuzzLimit = 1 << 16

// FuzzFrameStream reads frames off a byte stream as both ends of a connection do, decoding
// each as a request (the leader's side) and as a reply (the follower's side).
func FuzzFrameStream(f *testing.F) {
	fuzzFrames(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		br := bufio.NewReader(bytes.NewReader(b))
		for {
			p, err := readFrame(br, fuzzLimit)
			if err != nil {
				if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, errMalformed) {
					t.Fatalf("readFrame: unexpected error %v", err)
				}
				return
			}
			if len(p) > fuzzLimit || len(p) > len(b) {
				t.Fatalf("a frame of %d bytes from %d bytes under a limit of %d", len(p), len(b), fuzzLimit)
			}
			if id, req, err := decodeRequest(p); err == nil {
				// A request decodes to exactly one encoding: the same bytes back.
				again := encodeRequest(req)
				putID(again, id)
				if !bytes.Equal(again[frameHeaderLen:], p) {
					t.Fatalf("request %x re-encodes to %x", p, again[frameHeaderLen:])
				}
			} else if !errors.Is(err, errMalformed) {
				t.Fatalf("decodeRequest: %v", err)
			}
			if _, r, err := decodeReply(p); err == nil {
				n := len(r.Body)
				for _, fl := range r.Fields {
					n += len(fl.Name) + len(fl.Value)
				}
				if n > len(p) {
					t.Fatalf("a reply of %d bytes decodes to %d bytes of fields and body", len(p), n)
				}
				if r.kind == kindIndex && len(r.Body) != 8 {
					t.Fatalf("a read index of %d bytes", len(r.Body))
				}
			} else if !errors.Is(err, errMalformed) {
				t.Fatalf("decodeReply: %v", err)
			}
		}
	})
}

// FuzzHello decodes both hellos; an accepted one re-encodes to itself.
func FuzzHello(f *testing.F) {
	fuzzFrames(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		if ver, id, err := parseClientHello(b); err == nil && ver == version {
			if again := appendClientHello(nil, id); !bytes.Equal(again, b) {
				t.Fatalf("client hello %x re-encodes to %x", b, again)
			}
		}
		if h, err := parseServerHello(b); err == nil && h.version == version {
			if again := appendServerHello(nil, h.status, h.clusterID, h.maxRequest); !bytes.Equal(again, b) {
				t.Fatalf("server hello %x re-encodes to %x", b, again)
			}
		}
	})
}
