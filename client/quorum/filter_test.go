package quorum

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestFilterCallback(t *testing.T) {
	var passed []Upcall
	var logs bytes.Buffer
	f := NewFilterCallback(func(u Upcall) { passed = append(passed, u) }, slog.New(slog.NewTextHandler(&logs, nil)))
	up := func(salt string, index uint64, answer, node string) Upcall {
		return Upcall{Salt: salt, Kind: UpcallReply, Reply: Reply{Index: index, Answer: answer, Node: node, Salt: salt}}
	}

	steps := []struct {
		u    Upcall
		pass bool
		why  string
	}{
		{up("s", 5, "a", "n1"), true, "first answer"},
		{up("s", 5, "a", "n2"), false, "same index, same answer"},
		{up("s", 4, "old", "n3"), false, "lower index"},
		{up("s", 6, "a", "n4"), false, "higher index, same answer"},
		{up("s", 7, "b", "n5"), true, "higher index, different answer"},
		{up("t", 1, "x", "n1"), true, "first answer of another salt"},
	}
	for _, st := range steps {
		n := len(passed)
		f.Handle(st.u)
		if got := len(passed) > n; got != st.pass {
			t.Fatalf("%s: passed up = %v, want %v", st.why, got, st.pass)
		}
	}
	if c, known := f.Coherent("s"); !c || !known {
		t.Fatalf("Coherent(s) = %v, %v before any disagreement", c, known)
	}
	if logs.Len() != 0 {
		t.Fatalf("warning logged without disagreement: %s", logs.String())
	}

	f.Handle(up("s", 7, "LIE", "liar"))
	if c, known := f.Coherent("s"); c || !known {
		t.Fatalf("Coherent(s) = %v, %v after a same-index disagreement, want false, true", c, known)
	}
	if !strings.Contains(logs.String(), "incoherent") || !strings.Contains(logs.String(), "liar") {
		t.Fatalf("no warning naming the liar: %q", logs.String())
	}
	if c, _ := f.Coherent("t"); !c {
		t.Fatal("incoherence leaked to another salt")
	}

	var coherentAtExpiry bool
	f2 := NewFilterCallback(func(u Upcall) {
		if u.Kind == UpcallExpire {
			coherentAtExpiry, _ = f.Coherent(u.Salt)
		}
	}, nil)
	f = f2
	f.Handle(up("e", 1, "a", "n1"))
	f.Handle(Upcall{Salt: "e", Kind: UpcallExpire})
	if !coherentAtExpiry {
		t.Fatal("state dropped before the expiry upcall could read it")
	}
	if _, known := f.Coherent("e"); known {
		t.Fatal("state for an expired salt kept: the filter would grow without bound")
	}
}
