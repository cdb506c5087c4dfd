package quorum

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/cairn-io/cairn/test/vectors"
)

// Quorum packets travel between clients and servers of different builds. The vectors under
// testdata/vectors freeze today's bytes of a request of every query type and a reply of every
// status, signed with vectorKey, so a change both ends would agree on still fails here; a
// deliberate change takes a new Version and keeps decoding this one.

const vectorKey = "vector-key"

var vectorSalt = [SaltSize]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRequestVectors(t *testing.T) {
	c := testCodec(t, vectorKey)
	seen := map[QueryType]bool{}
	for _, v := range []struct {
		name string
		req  Request
	}{
		{"request-ping", Request{Timestamp: 1795834800000000000, Salt: vectorSalt, Type: QueryPing}},
		{"request-key", Request{Timestamp: 1795834800000000001, Salt: vectorSalt, Type: QueryKey, Query: "/app/color"}},
		{"request-leader", Request{Timestamp: 1795834800000000002, Salt: vectorSalt, Type: QueryLeader}},
		{"request-members", Request{Timestamp: 1795834800000000003, Salt: vectorSalt, Type: QueryMembers}},
		{"request-node-role", Request{Timestamp: 1795834800000000004, Salt: vectorSalt, Type: QueryNodeRole, Query: "n2"}},
	} {
		now, err := c.AppendRequest(nil, &v.req)
		if err != nil {
			t.Fatal(err)
		}
		frozen := vectors.Read(t, v.name, now)
		var got Request
		if err := c.DecodeRequest(frozen, &got); err != nil {
			t.Fatalf("%s: today's code refuses the frozen packet: %v", v.name, err)
		}
		if got != v.req {
			t.Fatalf("%s decodes to %+v, want %+v", v.name, got, v.req)
		}
		if !bytes.Equal(now, frozen) {
			t.Fatalf("%s encoding changed:\nnow\n%sfrozen\n%s", v.name, hex.Dump(now), hex.Dump(frozen))
		}
		seen[v.req.Type] = true
	}
	for q := QueryType(0); q < 255; q++ {
		if q.String() != "unknown" && !seen[q] {
			t.Errorf("query type %v has no frozen vector", q)
		}
	}
}

func TestReplyVectors(t *testing.T) {
	c := testCodec(t, vectorKey)
	seen := map[Status]bool{}
	for _, v := range []struct {
		name  string
		reply Reply
	}{
		{"reply-ping", Reply{Salt: vectorSalt, Status: StatusOK, Index: 41, Node: "n1", Answer: []byte("true")}},
		{"reply-key", Reply{Salt: vectorSalt, Status: StatusOK, Index: 42, Node: "n1",
			Answer: mustJSON(t, KeyAnswer{Key: "/app/color", Found: true, Value: "blue", ModifiedIndex: 40})}},
		{"reply-key-missing", Reply{Salt: vectorSalt, Status: StatusOK, Index: 42, Node: "n2",
			Answer: mustJSON(t, KeyAnswer{Key: "/app/size"})}},
		{"reply-leader", Reply{Salt: vectorSalt, Status: StatusOK, Index: 43, Node: "n1",
			Answer: mustJSON(t, LeaderAnswer{Known: true, Name: "n3", URL: "http://10.0.0.3:2379"})}},
		{"reply-members", Reply{Salt: vectorSalt, Status: StatusOK, Index: 44, Node: "n1",
			Answer: mustJSON(t, []Member{{Name: "n1", PeerURLs: []string{"http://10.0.0.1:2380"},
				ClientURLs: []string{"http://10.0.0.1:2379"}, Role: "leader"}})}},
		{"reply-node-role", Reply{Salt: vectorSalt, Status: StatusOK, Index: 45, Node: "n1",
			Answer: mustJSON(t, NodeRoleAnswer{Name: "n2", Found: true, Role: "follower"})}},
		{"reply-error", Reply{Salt: vectorSalt, Status: StatusError, Index: 46, Node: "n1", Answer: []byte("no applied index yet")}},
		{"reply-not-implemented", Reply{Salt: vectorSalt, Status: StatusNotImplemented, Index: 47, Node: "n1", Answer: []byte("query type 200")}},
	} {
		now, err := c.AppendReply(nil, &v.reply)
		if err != nil {
			t.Fatal(err)
		}
		frozen := vectors.Read(t, v.name, now)
		var got Reply
		if err := c.DecodeReply(frozen, &got); err != nil {
			t.Fatalf("%s: today's code refuses the frozen packet: %v", v.name, err)
		}
		if !reflect.DeepEqual(got, v.reply) {
			t.Fatalf("%s decodes to %+v, want %+v", v.name, got, v.reply)
		}
		if !bytes.Equal(now, frozen) {
			t.Fatalf("%s encoding changed:\nnow\n%sfrozen\n%s", v.name, hex.Dump(now), hex.Dump(frozen))
		}
		seen[v.reply.Status] = true
	}
	for s := Status(0); s < 255; s++ {
		if s.String() != "unknown" && !seen[s] {
			t.Errorf("status %v has no frozen vector", s)
		}
	}
}
