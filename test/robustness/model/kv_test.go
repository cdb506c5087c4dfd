package model

import (
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
)

func op(client int, call, ret int64, in Input, out Output) Op {
	return Op{Client: client, Node: "n1", Input: in, Output: out, Call: call, Return: ret}
}

func put(k, v string) Input                 { return Input{Kind: Put, Key: k, Value: v} }
func get(k string) Input                    { return Input{Kind: Get, Key: k} }
func okAt(i uint64) Output                  { return Output{Mod: i, Index: i} }
func read(v string, mod, idx uint64) Output { return Output{Value: v, Mod: mod, Index: idx} }

func check(t *testing.T, ops []Op) porcupine.CheckResult {
	t.Helper()
	res, _ := Linearizable(ops, 10*time.Second)
	return res
}

func TestLinearHistoryPasses(t *testing.T) {
	ops := []Op{
		op(0, 0, 10, put("a", "1"), okAt(5)),
		op(1, 5, 15, get("a"), read("1", 5, 5)),
		op(0, 20, 30, Input{Kind: CASValue, Key: "a", PrevValue: "1", Value: "2"}, okAt(7)),
		op(1, 21, 31, Input{Kind: CASIndex, Key: "a", PrevIndex: 5, Value: "3"}, Output{Err: ErrTestFailed, Index: 7}),
		op(0, 40, 50, Input{Kind: Create, Key: "a", Value: "4"}, Output{Err: ErrNodeExist, Index: 7}),
		op(0, 60, 70, Input{Kind: Delete, Key: "a"}, okAt(9)),
		op(1, 80, 90, get("a"), Output{Err: ErrKeyNotFound, Index: 9}),
		op(0, 95, 99, Input{Kind: Create, Key: "a", Value: "5"}, okAt(11)),
	}
	if res := check(t, ops); res != porcupine.Ok {
		t.Fatalf("want Ok, got %v", res)
	}
	if p := CheckIndexes(ops, 10); len(p) != 0 {
		t.Fatalf("index problems in a correct history: %v", p)
	}
}

func TestStaleReadFails(t *testing.T) {
	ops := []Op{
		op(0, 0, 10, put("a", "1"), okAt(5)),
		op(0, 20, 30, put("a", "2"), okAt(6)),
		op(1, 40, 50, get("a"), read("1", 5, 5)),
	}
	if res := check(t, ops); res != porcupine.Illegal {
		t.Fatalf("want Illegal, got %v", res)
	}
	if p := CheckIndexes(ops, 10); len(p) == 0 {
		t.Fatal("stale index not reported")
	}
}

func TestWrongModifiedIndexFails(t *testing.T) {
	ops := []Op{
		op(0, 0, 10, put("a", "1"), okAt(5)),
		op(1, 20, 30, get("a"), read("1", 4, 5)),
	}
	if res := check(t, ops); res != porcupine.Illegal {
		t.Fatalf("want Illegal, got %v", res)
	}
}

func TestWriteIndexMustGrowPerKey(t *testing.T) {
	ops := []Op{
		op(0, 0, 10, put("a", "1"), okAt(5)),
		op(0, 20, 30, put("a", "2"), okAt(5)),
	}
	if res := check(t, ops); res != porcupine.Illegal {
		t.Fatalf("want Illegal, got %v", res)
	}
}

func TestUnknownWriteMayOrMayNotApply(t *testing.T) {
	applied := []Op{
		op(0, 0, 10, put("a", "1"), okAt(5)),
		op(2, 12, Pending, put("a", "x"), Output{Unknown: true}),
		op(1, 40, 50, get("a"), read("x", 8, 8)),
		op(1, 60, 70, Input{Kind: CASIndex, Key: "a", PrevIndex: 8, Value: "y"}, okAt(9)),
	}
	if res := check(t, applied); res != porcupine.Ok {
		t.Fatalf("applied unknown write: want Ok, got %v", res)
	}
	notApplied := []Op{
		op(0, 0, 10, put("a", "1"), okAt(5)),
		op(2, 12, Pending, put("a", "x"), Output{Unknown: true}),
		op(1, 40, 50, get("a"), read("1", 5, 7)),
	}
	if res := check(t, notApplied); res != porcupine.Ok {
		t.Fatalf("unapplied unknown write: want Ok, got %v", res)
	}
	// Once the unknown write is seen, the older value cannot come back.
	flipFlop := append(append([]Op(nil), applied[:3]...), op(1, 80, 90, get("a"), read("1", 5, 9)))
	if res := check(t, flipFlop); res != porcupine.Illegal {
		t.Fatalf("value returning after an unknown write was seen: want Illegal, got %v", res)
	}
	// A revealed index below the floor of the write before it is impossible.
	low := []Op{
		op(0, 0, 10, put("a", "1"), okAt(5)),
		op(2, 12, Pending, put("a", "x"), Output{Unknown: true}),
		op(1, 40, 50, get("a"), read("x", 3, 8)),
	}
	if res := check(t, low); res != porcupine.Illegal {
		t.Fatalf("unknown write revealed below the floor: want Illegal, got %v", res)
	}
}

func TestCheckIndexesAcrossKeys(t *testing.T) {
	ops := []Op{
		op(0, 0, 10, put("a", "1"), okAt(9)),
		op(1, 20, 30, put("b", "1"), okAt(8)),
	}
	if p := CheckIndexes(ops, 10); len(p) != 1 {
		t.Fatalf("index going backwards across keys: %v", p)
	}
	dup := []Op{
		op(0, 0, 10, put("a", "1"), okAt(9)),
		op(1, 5, 15, put("b", "1"), okAt(9)),
	}
	if p := CheckIndexes(dup, 10); len(p) != 1 {
		t.Fatalf("duplicate index: %v", p)
	}
	staleOther := []Op{
		op(0, 0, 10, put("a", "1"), okAt(9)),
		op(1, 20, 30, get("b"), Output{Err: ErrKeyNotFound, Index: 7}),
	}
	if p := CheckIndexes(staleOther, 10); len(p) != 1 {
		t.Fatalf("stale read of another key: %v", p)
	}
}

func TestLostWrites(t *testing.T) {
	ops := []Op{
		op(0, 0, 10, put("a", "1"), okAt(5)),
		op(0, 20, 30, put("a", "2"), okAt(6)),
		op(0, 40, 50, put("b", "1"), okAt(7)),
		op(0, 60, 70, Input{Kind: Delete, Key: "b"}, okAt(8)),
	}
	good := map[string]Output{"a": read("2", 6, 8), "b": {Err: ErrKeyNotFound, Index: 8}}
	if p := LostWrites(ops, good); len(p) != 0 {
		t.Fatalf("no write lost, got %v", p)
	}
	lost := map[string]Output{"a": read("1", 5, 5), "b": {Err: ErrKeyNotFound, Index: 5}}
	if p := LostWrites(ops, lost); len(p) == 0 {
		t.Fatal("lost writes not reported")
	}
}

func TestEvidenceFiles(t *testing.T) {
	ops := []Op{op(0, 0, 10, put("a", "1"), okAt(5)), op(1, 20, 30, get("a"), read("0", 4, 5))}
	res, info := Linearizable(ops, 10*time.Second)
	if res != porcupine.Illegal {
		t.Fatalf("want Illegal, got %v", res)
	}
	h, v, err := Evidence(t.TempDir(), ops, info)
	if err != nil || h == "" || v == "" {
		t.Fatalf("evidence: %q %q %v", h, v, err)
	}
}
