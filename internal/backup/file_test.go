package backup_test

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/cairn-io/cairn/internal/backup"
	"github.com/cairn-io/cairn/internal/fsm"
	"github.com/cairn-io/cairn/internal/store"
	"github.com/hashicorp/raft"
)

func filledFSM(t *testing.T, n int) *fsm.FSM {
	t.Helper()
	f := fsm.New(store.New())
	for i := 1; i <= n; i++ {
		cmd := &fsm.Command{Type: fsm.CmdPut, Key: fmt.Sprintf("/d/%d", i), Value: "v", Time: time.Now().UnixNano()}
		if res := f.Apply(&raft.Log{Index: uint64(i), Data: cmd.Marshal()}).(*fsm.Result); res.Err != nil {
			t.Fatal(res.Err)
		}
	}
	return f
}

func TestEncodeDecodeKeepsState(t *testing.T) {
	f := filledFSM(t, 20)
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := backup.Encode(snap)
	if err != nil {
		t.Fatal(err)
	}
	g, info, err := backup.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if info.Keys != 20 || info.Index != f.Store().Index() || info.RaftIndex != 20 || info.Size != int64(len(b)) || len(info.Checksum) != 64 {
		t.Fatalf("info %+v", info)
	}
	ev, err := g.Store().Get("/d/7", false, false, time.Now())
	if err != nil || ev.Node.Value == nil || *ev.Node.Value != "v" {
		t.Fatalf("restored /d/7: %v %v", ev, err)
	}
}

func TestDecodeRefusesDamage(t *testing.T) {
	snap, _ := filledFSM(t, 5).Snapshot()
	b, err := backup.Encode(snap)
	if err != nil {
		t.Fatal(err)
	}
	flip := func(i int) []byte {
		c := append([]byte(nil), b...)
		c[i] ^= 1
		return c
	}
	version := append([]byte(nil), b...)
	version[8] = 9
	for name, c := range map[string][]byte{
		"payload bit":  flip(len(b) / 2),
		"checksum bit": flip(len(b) - 1),
		"length":       flip(12),
		"magic":        flip(0),
		"truncated":    b[:len(b)-1],
		"empty":        nil,
	} {
		if _, _, err := backup.Decode(c); !errors.Is(err, backup.ErrCorrupt) {
			t.Errorf("%s: %v, want ErrCorrupt", name, err)
		}
	}
	if _, _, err := backup.Decode(version); !errors.Is(err, backup.ErrVersion) {
		t.Errorf("newer version: %v, want ErrVersion", err)
	}
}
