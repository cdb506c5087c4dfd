package quorum

import (
	"context"
	"encoding/json"
	"errors"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	wire "github.com/cairn-io/cairn/api/quorum"
	"github.com/prometheus/client_golang/prometheus"
)

func goodCodec(t *testing.T) *wire.Codec {
	c, err := wire.NewCodec(testKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestNewRejectsBadConfig(t *testing.T) {
	src := newMemSource("n1", 1)
	cases := []struct {
		name string
		cfg  Config
		src  Source
		want string
	}{
		{"no key", Config{ListenAddr: "127.0.0.1:0"}, src, "no HMAC key"},
		{"nil source", Config{Key: testKey, ListenAddr: "127.0.0.1:0"}, nil, "nil Source"},
		{"bad address", Config{Key: testKey, ListenAddr: "127.0.0.1:99999"}, src, "listen"},
		{"tiny packets", Config{Key: testKey, ListenAddr: "127.0.0.1:0", MaxPacketSize: 10}, src, "max packet size"},
		{"negative window", Config{Key: testKey, ListenAddr: "127.0.0.1:0", Window: -time.Second}, src, "window"},
		{"negative cache", Config{Key: testKey, ListenAddr: "127.0.0.1:0", ReplayCacheSize: -1}, src, "replay cache"},
	}
	for _, tc := range cases {
		s, err := New(tc.cfg, tc.src)
		if err == nil {
			s.Close()
			t.Errorf("%s: New succeeded", tc.name)
			continue
		}
		if !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err %q, want it to mention %q", tc.name, err, tc.want)
		}
	}
}

func TestDefaults(t *testing.T) {
	cfg, err := Config{Key: testKey}.withDefaults()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ListenAddr != ":2381" || cfg.Window != time.Minute || cfg.MaxPacketSize != DefaultMaxPacketSize {
		t.Fatalf("defaults: %+v", cfg)
	}
}

func TestAnswers(t *testing.T) {
	src := newMemSource("n1", 42)
	src.set("/a", "va", 40)
	src.leader, src.leaderURL = "n2", "http://10.0.0.2:2379"
	src.members = []Member{
		{Name: "n2", PeerURLs: []string{"http://10.0.0.2:2380"}, ClientURLs: []string{"http://10.0.0.2:2379"}, Role: "leader"},
		{Name: "n1", Role: "follower"},
	}
	s := startServer(t, Config{}, src)
	p := newRawPeer(t, s, testKey)

	cases := []struct {
		typ    wire.QueryType
		query  string
		status wire.Status
		answer string
	}{
		{wire.QueryPing, "", wire.StatusOK, `true`},
		{wire.QueryKey, "/a", wire.StatusOK, `{"key":"/a","found":true,"value":"va","modifiedIndex":40}`},
		{wire.QueryKey, "/missing", wire.StatusOK, `{"key":"/missing","found":false}`},
		{wire.QueryKey, "/dir/", wire.StatusError, `not a file: /dir/`},
		{wire.QueryLeader, "", wire.StatusOK, `{"known":true,"name":"n2","url":"http://10.0.0.2:2379"}`},
		{wire.QueryMembers, "", wire.StatusOK, `[{"name":"n1","peerURLs":[],"clientURLs":[],"role":"follower"},` +
			`{"name":"n2","peerURLs":["http://10.0.0.2:2380"],"clientURLs":["http://10.0.0.2:2379"],"role":"leader"}]`},
		{wire.QueryNodeRole, "n2", wire.StatusOK, `{"name":"n2","found":true,"role":"leader"}`},
		{wire.QueryNodeRole, "nx", wire.StatusOK, `{"name":"nx","found":false}`},
		{99, "", wire.StatusNotImplemented, `unsupported query type: unknown`},
	}
	for _, tc := range cases {
		r := p.ask(tc.typ, tc.query)
		if r.Status != tc.status || string(r.Answer) != tc.answer || r.Index != 42 || r.Node != "n1" {
			t.Errorf("%v %q: got status %v index %d node %q answer %s; want %v 42 n1 %s",
				tc.typ, tc.query, r.Status, r.Index, r.Node, r.Answer, tc.status, tc.answer)
		}
	}

	src.mu.Lock()
	src.leader = ""
	src.mu.Unlock()
	if r := p.ask(wire.QueryLeader, ""); string(r.Answer) != `{"known":false}` {
		t.Errorf("leader unknown: answer %s", r.Answer)
	}
	if got := s.Stats().Answered; got != uint64(len(cases)+1) {
		t.Errorf("Answered = %d, want %d", got, len(cases)+1)
	}
}

func TestAnswerTooLargeBecomesError(t *testing.T) {
	src := newMemSource("n1", 1)
	for i := 0; i < 2000; i++ {
		src.members = append(src.members, Member{Name: strings.Repeat("m", 40) + string(rune('a'+i%26)), Role: "follower"})
	}
	s := startServer(t, Config{}, src)
	r := newRawPeer(t, s, testKey).ask(wire.QueryMembers, "")
	if r.Status != wire.StatusError || !strings.Contains(string(r.Answer), "too large") {
		t.Fatalf("status %v answer %.80s; want an error saying the answer is too large", r.Status, r.Answer)
	}
}

func TestDropsAndCounters(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	var clock sync.Mutex
	reg := prometheus.NewRegistry()
	s := startServer(t, Config{
		Registerer: reg,
		Now:        func() time.Time { clock.Lock(); defer clock.Unlock(); return now },
	}, newMemSource("n1", 1))
	good := newRawPeer(t, s, testKey)
	wrongKey := newRawPeer(t, s, []byte("not-the-key"))
	gc := goodCodec(t)

	// Wrong key.
	pkt, _ := wrongKey.request(now, wire.QueryPing, "")
	wrongKey.send(pkt)
	wrongKey.expectSilence(gc)

	// Timestamps just outside the window, both ways; just inside is fine.
	for _, ts := range []time.Time{now.Add(-61 * time.Second), now.Add(61 * time.Second)} {
		pkt, _ := good.request(ts, wire.QueryPing, "")
		good.send(pkt)
	}
	good.expectSilence(gc)
	pkt, salt := good.request(now.Add(-59*time.Second), wire.QueryPing, "")
	good.send(pkt)
	if r, ok := good.read(5 * time.Second); !ok || r.Salt != salt {
		t.Fatal("request inside the window not answered")
	}

	// Replay of that accepted packet.
	good.send(pkt)
	good.expectSilence(gc)

	// Oversized, garbage, another version, a reply sent to the server.
	good.send(make([]byte, DefaultMaxPacketSize+1))
	good.send([]byte("GET / HTTP/1.1\r\n\r\n"))
	v2 := append([]byte(nil), pkt...)
	v2[4] = 2
	good.send(v2)
	reply, _ := gc.AppendReply(nil, &wire.Reply{Node: "x"})
	good.send(reply)
	good.expectSilence(gc)

	want := Stats{Oversized: 1, Garbage: 2, BadVersion: 1, BadMAC: 1, Stale: 2, Replayed: 1, Answered: 5, Received: 13}
	if got := s.Stats(); got != want {
		t.Fatalf("Stats = %+v\nwant    %+v", got, want)
	}
	for reason, n := range map[string]float64{"bad_hmac": 1, "stale": 2, "replayed": 1, "oversized": 1, "garbage": 2, "version": 1} {
		if got := droppedCounter(t, reg, reason); got != n {
			t.Errorf("prometheus dropped{reason=%q} = %v, want %v", reason, got, n)
		}
	}
}

func droppedCounter(t *testing.T, reg *prometheus.Registry, reason string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "cairn_quorum_dropped_packets_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			if m.GetLabel()[0].GetValue() == reason {
				return m.GetCounter().GetValue()
			}
		}
	}
	t.Fatalf("no dropped counter for %q", reason)
	return 0
}

func TestReplayCacheFullFailsClosed(t *testing.T) {
	now := time.Unix(1_000_000, 0)
	var mu sync.Mutex
	s := startServer(t, Config{
		ReplayCacheSize: 1,
		Window:          10 * time.Second,
		Now:             func() time.Time { mu.Lock(); defer mu.Unlock(); return now },
	}, newMemSource("n1", 1))
	p := newRawPeer(t, s, testKey)
	gc := goodCodec(t)

	first, _ := p.request(now, wire.QueryPing, "")
	p.send(first)
	if _, ok := p.read(5 * time.Second); !ok {
		t.Fatal("first request not answered")
	}
	second, _ := p.request(now, wire.QueryPing, "")
	p.send(second)
	waitFor(t, "cache-full drop", func() bool { return s.Stats().ReplayCacheFull == 1 })

	// Once the first salt's timestamp leaves the window it is evicted and the cache has room.
	mu.Lock()
	now = now.Add(11 * time.Second)
	mu.Unlock()
	p.expectSilence(gc)
	p.send(first)
	waitFor(t, "stale drop of the evicted salt", func() bool { return s.Stats().Stale == 1 })
}

// Rejecting garbage and forged packets must not allocate: a flood costs CPU only.
func TestDropPathDoesNotAllocate(t *testing.T) {
	s, err := New(Config{Key: testKey, ListenAddr: "127.0.0.1:0"}, newMemSource("n1", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	forged, _ := (&rawPeer{t: t, codec: mustCodec(t, "other")}).request(time.Now(), wire.QueryPing, "")
	from := s.Addr()
	for _, pkt := range [][]byte{forged, []byte("garbage"), make([]byte, DefaultMaxPacketSize+1)} {
		if a := testing.AllocsPerRun(50, func() { s.handle(pkt, from) }); a != 0 {
			t.Errorf("dropping a %d-byte packet allocated %.1f times", len(pkt), a)
		}
	}
}

func mustCodec(t *testing.T, key string) *wire.Codec {
	c, err := wire.NewCodec([]byte(key))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestServeCloseLifecycle(t *testing.T) {
	base := runtime.NumGoroutine()
	s, err := New(Config{Key: testKey, ListenAddr: "127.0.0.1:0"}, newMemSource("n1", 1))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ctx) }()
	p := newRawPeer(t, s, testKey)
	p.ask(wire.QueryPing, "")
	if err := s.Serve(ctx); !errors.Is(err, ErrAlreadyServing) {
		t.Fatalf("second Serve: %v", err)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatalf("Serve after cancel: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after cancel: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Serve(context.Background()); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Close: %v", err)
	}
	waitFor(t, "goroutines to return to baseline", func() bool { return runtime.NumGoroutine() <= base })
}

func TestCloseStopsServe(t *testing.T) {
	s, err := New(Config{Key: testKey, ListenAddr: "127.0.0.1:0"}, newMemSource("n1", 1))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(context.Background()) }()
	newRawPeer(t, s, testKey).ask(wire.QueryPing, "")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.done:
	default:
		t.Fatal("Close returned before Serve did")
	}
	if err := <-errc; err != nil {
		t.Fatalf("Serve: %v", err)
	}
}

func TestMembersEncodingIsStable(t *testing.T) {
	a := sortedMembers([]Member{{Name: "b"}, {Name: "a", PeerURLs: []string{}}})
	b := sortedMembers([]Member{{Name: "a"}, {Name: "b", ClientURLs: []string{}}})
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	if string(ja) != string(jb) {
		t.Fatalf("same membership encodes differently:\n%s\n%s", ja, jb)
	}
}

func TestMetricsGoToTheGivenRegistry(t *testing.T) {
	reg := prometheus.NewRegistry()
	s := startServer(t, Config{Registerer: reg}, newMemSource("n1", 1))
	newRawPeer(t, s, testKey).ask(wire.QueryPing, "")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found, received := false, false
	for _, mf := range mfs {
		if mf.GetName() == "cairn_quorum_replies_total" && mf.GetMetric()[0].GetCounter().GetValue() == 1 {
			found = true
		}
		if mf.GetName() == "cairn_quorum_received_packets_total" && mf.GetMetric()[0].GetCounter().GetValue() == 1 {
			received = true
		}
	}
	if !found || !received {
		t.Fatalf("cairn_quorum_replies_total (%v) or cairn_quorum_received_packets_total (%v) not 1 on the given registry", found, received)
	}
	// A second server on the same registry would silently share or lose counters.
	if s2, err := New(Config{Key: testKey, ListenAddr: "127.0.0.1:0", Registerer: reg}, newMemSource("n2", 1)); err == nil {
		s2.Close()
		t.Fatal("second server registered the same metrics without error")
	}
}

func TestReplySendFailureIsCounted(t *testing.T) {
	s, err := New(Config{Key: testKey, ListenAddr: "127.0.0.1:0"}, newMemSource("n1", 1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p := &rawPeer{t: t, codec: goodCodec(t)}
	pkt, _ := p.request(time.Now(), wire.QueryPing, "")
	s.handle(pkt, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 0)) // port 0: unsendable
	if st := s.Stats(); st.SendErrors != 1 || st.Answered != 0 {
		t.Fatalf("Stats = %+v, want one send error and nothing answered", st)
	}
}
