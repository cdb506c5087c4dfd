package relay

import (
	"bytes"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/cairn-io/cairn/test/vectors"
)

// Relay frames cross between builds during a rolling upgrade: a follower on one build relays
// to a leader on another. The vectors under testdata/vectors freeze today's bytes of every
// hello and frame kind, so a change both sides would agree on (and every round-trip test
// accept) still fails here; a deliberate change bumps the relay version and keeps the old.

func sameBytes(t *testing.T, what string, now, frozen []byte) {
	t.Helper()
	if !bytes.Equal(now, frozen) {
		t.Fatalf("%s encoding changed:\nnow\n%sfrozen\n%s", what, hex.Dump(now), hex.Dump(frozen))
	}
}

const vectorCluster = 0x1122334455667788

func TestHelloVectors(t *testing.T) {
	now := appendClientHello(nil, vectorCluster)
	frozen := vectors.Read(t, "client-hello", now)
	ver, id, err := parseClientHello(frozen)
	if err != nil || ver != version || id != vectorCluster {
		t.Fatalf("client hello decodes to version %d cluster %#x %v", ver, id, err)
	}
	sameBytes(t, "client hello", now, frozen)

	for _, v := range []struct {
		name   string
		status byte
	}{{"server-hello-ok", statusOK}, {"server-hello-cluster-mismatch", statusClusterMismatch}, {"server-hello-version", statusVersion}} {
		now := appendServerHello(nil, v.status, vectorCluster, 4<<20)
		frozen := vectors.Read(t, v.name, now)
		h, err := parseServerHello(frozen)
		if want := (serverHello{version: version, status: v.status, clusterID: vectorCluster, maxRequest: 4 << 20}); err != nil || h != want {
			t.Fatalf("%s decodes to %+v %v, want %+v", v.name, h, err, want)
		}
		sameBytes(t, v.name, now, frozen)
	}
}

func TestRequestVectors(t *testing.T) {
	for _, v := range []struct {
		name string
		id   uint64
		req  Request
	}{
		{"request-write", 42, Request{Flags: 0x05, Timeout: 1500 * time.Millisecond, Body: []byte("PUT /v2/keys/a value=1")}},
		{"request-write-unbounded", 1 << 40, Request{Flags: 0, Body: []byte{0x01, 0x01, 0x00}}},
		{"request-read-index", 43, Request{Flags: flagReadIndex, Timeout: 2 * time.Second}},
	} {
		now := encodeRequest(&v.req)
		putID(now, v.id)
		frozen := vectors.Read(t, v.name, now)
		id, got, err := decodeRequest(frozen[frameHeaderLen:])
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if len(got.Body) == 0 {
			got.Body = nil
		}
		if id != v.id || !reflect.DeepEqual(*got, v.req) {
			t.Fatalf("%s decodes to id %d %+v, want %d %+v", v.name, id, *got, v.id, v.req)
		}
		if n := int(frozen[0])<<24 | int(frozen[1])<<16 | int(frozen[2])<<8 | int(frozen[3]); n != requestPayloadLen(len(v.req.Body)) {
			t.Fatalf("%s: length prefix %d", v.name, n)
		}
		sameBytes(t, v.name, now, frozen)
	}
}

func TestReplyVectors(t *testing.T) {
	answer := &Reply{Status: 201, Fields: []Field{{"X-Etcd-Index", "12"}, {"Content-Type", "application/json"}},
		Body: []byte(`{"action":"set"}`), kind: kindAnswer}
	notLeader := &Reply{NotLeader: true, kind: kindNotLeader}
	index := &Reply{kind: kindIndex, Body: []byte{0, 0, 0, 0, 0, 0, 0x30, 0x39}}
	indexErr := &Reply{kind: kindIndexError, Body: []byte("no leader")}

	encoded := func(r *Reply) []byte {
		b, err := encodeReply(7, r)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, v := range []struct {
		name string
		now  [][]byte // every encoder that writes this kind
		want *Reply
	}{
		{"reply-answer", [][]byte{encoded(answer)}, answer},
		{"reply-not-leader", [][]byte{encoded(&Reply{NotLeader: true}), encodeIndexReply(7, 0, ErrNotLeader)}, notLeader},
		{"reply-index", [][]byte{encodeIndexReply(7, 12345, nil)}, index},
		{"reply-index-error", [][]byte{encodeIndexReply(7, 0, errors.New("no leader"))}, indexErr},
	} {
		frozen := vectors.Read(t, v.name, v.now[0])
		id, got, err := decodeReply(frozen[frameHeaderLen:])
		if err != nil {
			t.Fatalf("%s: %v", v.name, err)
		}
		if len(got.Body) == 0 {
			got.Body = nil
		}
		if id != 7 || !reflect.DeepEqual(got, v.want) {
			t.Fatalf("%s decodes to id %d %+v, want %+v", v.name, id, got, v.want)
		}
		for _, now := range v.now {
			sameBytes(t, v.name, now, frozen)
		}
	}
}
