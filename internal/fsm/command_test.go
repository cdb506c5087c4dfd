package fsm

import (
	"errors"
	"reflect"
	"testing"
)

func boolp(b bool) *bool { return &b }

func TestCommandRoundTrip(t *testing.T) {
	cases := []Command{
		{Type: CmdPut, Key: "/a", Value: "v"},
		{Type: CmdPut, Key: "/a", Value: "v", PrevExist: boolp(false), TTL: 5, Time: 1_700_000_000_123_456_789},
		{Type: CmdPut, Key: "/a", PrevValue: "old", PrevIndex: 1 << 40, PrevExist: boolp(true), Refresh: true, TTL: 1},
		{Type: CmdPost, Key: "/q", Value: "job", Dir: false},
		{Type: CmdPut, Key: "/d", Dir: true},
		{Type: CmdDelete, Key: "/d", Dir: true, Recursive: true},
		{Type: CmdExpire, Time: -1},
		{Type: CmdMemberSet, Member: &Member{ID: 0xdeadbeefcafef00d, Name: "n1",
			PeerURLs: []string{"http://127.0.0.1:2380"}, ClientURLs: []string{"http://a:2379", "http://b:2379"},
			AlternateClientURLs: []string{"http://ext:2379"}, Rack: -3, Learner: true, Evacuated: true}},
		{Type: CmdMemberRemove, Member: &Member{ID: 7}},
		{Type: CmdMemberSet, Member: &Member{ID: 8, Name: "q", QuorumPort: 2381, Evacuated: true}},
		{Type: CmdMemberSet, Member: &Member{ID: 9, Name: "q", QuorumPort: 65535}},
		{Type: CmdNoop},
		{Type: CmdPut, Key: "/unicode/ключ", Value: string([]byte{0, 1, 2, 255})},
	}
	for _, c := range cases {
		b := c.Marshal()
		got, err := Unmarshal(b)
		if err != nil {
			t.Fatalf("%v: %v", c.Type, err)
		}
		if !reflect.DeepEqual(*got, c) {
			t.Fatalf("round trip of %+v gave %+v", c, *got)
		}
	}
}

func TestUnmarshalRejects(t *testing.T) {
	good := (&Command{Type: CmdPut, Key: "/k", Value: "v"}).Marshal()
	cases := map[string][]byte{
		"empty":             nil,
		"short":             {1, 1},
		"type zero":         append([]byte{0}, good[1:]...),
		"unknown type":      append([]byte{99}, good[1:]...),
		"future version":    append([]byte{1, 2}, good[2:]...),
		"truncated":         good[:len(good)-1],
		"trailing":          append(append([]byte{}, good...), 0),
		"huge string":       {1, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"member list bomb":  {5, 1, flagMember, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"unknown flag":      append([]byte{1, 1, 1 << 7}, good[3:]...),
		"prevExist no set":  append([]byte{1, 1, flagPrevExist}, good[3:]...),
		"long varint":       append([]byte{1, 1, 0, 0x82, 0x00}, good[4:]...),
		"member bad flags":  withLastByte((&Command{Type: CmdMemberRemove, Member: &Member{ID: 1}}).Marshal(), 1<<5),
		"bad varint":        {1, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80},
		"member flag alone": append([]byte{5, 1, flagMember}, good[3:]...),
		// The quorum port flag with no port, port 0 (not how 0 encodes) or beyond 65535.
		"quorum port missing": withLastByte((&Command{Type: CmdMemberRemove, Member: &Member{ID: 1}}).Marshal(), memberQuorumPort),
		"quorum port zero":    append(withLastByte((&Command{Type: CmdMemberRemove, Member: &Member{ID: 1}}).Marshal(), memberQuorumPort), 0),
		"quorum port large":   append(withLastByte((&Command{Type: CmdMemberRemove, Member: &Member{ID: 1}}).Marshal(), memberQuorumPort), 0x80, 0x80, 0x04),
	}
	for name, b := range cases {
		if _, err := Unmarshal(b); !errors.Is(err, ErrMalformed) {
			t.Errorf("%s: got %v, want ErrMalformed", name, err)
		}
	}
}

func withLastByte(b []byte, v byte) []byte {
	b[len(b)-1] = v
	return b
}

func FuzzUnmarshal(f *testing.F) {
	f.Add((&Command{Type: CmdPut, Key: "/k", Value: "v", PrevExist: boolp(true), TTL: 3, Time: 42}).Marshal())
	f.Add((&Command{Type: CmdMemberSet, Member: &Member{ID: 1, Name: "x", PeerURLs: []string{"u"}}}).Marshal())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Unmarshal(b)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode to the same bytes: the encoding
		// is canonical, so replicas never disagree about an entry.
		if again := c.Marshal(); string(again) != string(b) {
			t.Fatalf("re-encoding differs:\n%x\n%x", b, again)
		}
	})
}

func BenchmarkMarshal(b *testing.B) {
	c := &Command{Type: CmdPut, Key: "/service/web/instance-42", Value: "10.0.0.42:8080", TTL: 30, Time: 1_700_000_000_000_000_000}
	b.ReportAllocs()
	for b.Loop() {
		_ = c.Marshal()
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	buf := (&Command{Type: CmdPut, Key: "/service/web/instance-42", Value: "10.0.0.42:8080", TTL: 30, Time: 1_700_000_000_000_000_000}).Marshal()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Unmarshal(buf); err != nil {
			b.Fatal(err)
		}
	}
}
