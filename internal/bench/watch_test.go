package bench

import (
	"testing"
	"time"
)

func TestStampRoundTrip(t *testing.T) {
	now := time.Now()
	v := make([]byte, stampLen+8)
	putStamp(v, now)
	copy(v[stampLen:], "padding!")
	ev := []byte(`{"action":"set","node":{"key":"/w","value":"` + string(v) +
		`","modifiedIndex":9,"createdIndex":9},"prevNode":{"key":"/w","value":"0000000000000000001"}}`)
	got, ok := readStamp(ev)
	if !ok || !got.Equal(time.Unix(0, now.UnixNano())) {
		t.Fatalf("readStamp = %v %v, want the node's stamp %v", got, ok, now)
	}
	if _, ok := readStamp([]byte(`{"node":{"value":"abc"}}`)); ok {
		t.Fatal("read a stamp from a short value")
	}
	if _, ok := readStamp([]byte(`{"node":{"value":"12345678901234567x9"}}`)); ok {
		t.Fatal("read a stamp with a non-digit")
	}
}
