// Package relay carries clients' writes, linearizable reads' read-index requests and the
// followers' commit-notice requests from a follower to the leader over a few persistent
// peer-port connections: the handshake that keeps
// clusters apart, length-prefixed frames, many requests multiplexed by id on one connection
// with their frames coalesced into shared writes, and the leader's serving loop.
//
// It owns transport only. It never interprets a write or its answer (the caller builds the
// request on the follower and renders the answer on the leader); a read index, a commit index and
// a term are numbers it carries. It never retries, and it never sends a request twice: Client.Do says, through
// ErrNotSent, whether a failed write provably never left this node, which is the only case in
// which the caller may send it again.
package relay

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/cairn-io/cairn/internal/metrics"
)

// Wire format, all integers big-endian.
//
// Handshake, once per connection, before any frame:
//
//	follower -> leader: "CRL" version(1) clusterID(8) '\n'
//	leader -> follower: "CRL" version(1) status(1) clusterID(8) maxRequest(4)
//
// The leader closes the connection after a status other than statusOK. The newline makes a
// member of an earlier build, which takes the connection for HTTP, answer "400 Bad Request"
// at once instead of waiting for the rest of a request line: the follower then knows it must
// relay over HTTP.
//
// Then frames in both directions: length(4), then that many bytes of payload.
//
//	request: id(8) flags(1) timeoutMillis(4) body
//	reply:   id(8) kind(1) status(2) fieldCount(1) {nameLen(uvarint) name valueLen(uvarint) value}* body
//
// Bits 0-5 of flags are the caller's. Bit 7 (flagReadIndex) marks a read-index request, with an
// empty body; its reply is of kind kindIndex (body: the index, 8 bytes), kindIndexError (body:
// why the leader could not fix one) or kindNotLeader, with status 0 and no fields. A leader of
// the first relay build passes such a request to its write handler, which refuses an empty
// command as malformed, proposing nothing, with a kindAnswer reply: the follower reads that
// as ErrUnsupported and asks over HTTP.
//
// Bit 6 (flagCommitWait) marks a commit-notice request (commit.go): body 0xFF after(8); its reply
// is of kind kindCommit (body: commit(8) term(8)), kindIndexError or kindNotLeader. The leading
// 0xFF is no command type, so a leader of an earlier build, which hands the request to its write
// handler, refuses it as malformed, proposing nothing.
const (
	version = 1

	clientHelloLen = 3 + 1 + 8 + 1
	serverHelloLen = 3 + 1 + 1 + 8 + 4

	statusOK              = 0
	statusClusterMismatch = 1
	statusVersion         = 2

	kindAnswer     = 0
	kindNotLeader  = 1
	kindIndex      = 2
	kindIndexError = 3
	kindCommit     = 4

	flagReadIndex  = 1 << 7
	flagCommitWait = 1 << 6

	frameHeaderLen  = 4
	requestFixedLen = 8 + 1 + 4
	replyFixedLen   = 8 + 1 + 2 + 1
	maxFields       = 255
)

var magic = [3]byte{'C', 'R', 'L'}

// Request is one relayed write. Flags (bits 0-5; bits 6 and 7 are the relay's) and Body belong to the
// caller; the relay only carries them.
type Request struct {
	Flags uint8
	// Timeout is how long the follower still waits for the answer (0: no bound from the
	// follower); the leader gives up on the request after it.
	Timeout time.Duration
	Body    []byte
}

// Field is one header of an answer.
type Field struct {
	Name, Value string
}

// Reply is the leader's answer. NotLeader means the node reached was not the leader and did
// nothing with the request; the other fields are then empty.
type Reply struct {
	NotLeader bool
	Status    int
	Fields    []Field
	Body      []byte

	kind byte
}

var (
	// ErrNotSent wraps every failure that happened before any byte of the request could have
	// left this node (a failed dial or handshake, a connection lost while the request still
	// waited its turn): the leader cannot have seen it, so sending it again is safe.
	ErrNotSent = errors.New("relay: request not sent")
	// ErrClusterMismatch: the member reached belongs to another cluster. Nothing was sent.
	ErrClusterMismatch = errors.New("relay: the member reached belongs to another cluster")
	// ErrUnsupported: the member reached does not speak this relay protocol (another version, or
	// a build without it): nothing was sent. Client.ReadIndex also returns it when the member
	// took the request for a write (the first relay build), which changes nothing.
	ErrUnsupported = errors.New("relay: the member reached does not speak this relay protocol")
	// ErrNotLeader: the member reached is not the leader. A ServerConfig.ReadIndex error wrapping
	// it is sent as such; Client.ReadIndex returns it for that answer.
	ErrNotLeader = errors.New("relay: the member reached is not the leader")
	// ErrTooLarge: the request is over the leader's frame limit. Nothing was sent.
	ErrTooLarge = errors.New("relay: request over the leader's frame limit")
	// ErrClosed: the client or server was closed.
	ErrClosed = errors.New("relay: closed")
	// errMalformed is a frame that does not decode: the connection carrying it is dropped.
	errMalformed = errors.New("relay: malformed frame")
)

func appendClientHello(b []byte, clusterID uint64) []byte {
	b = append(b, magic[:]...)
	b = append(b, version)
	b = binary.BigEndian.AppendUint64(b, clusterID)
	return append(b, '\n')
}

func parseClientHello(b []byte) (ver byte, clusterID uint64, err error) {
	if len(b) != clientHelloLen || [3]byte(b[:3]) != magic || b[clientHelloLen-1] != '\n' {
		return 0, 0, fmt.Errorf("%w: bad hello", errMalformed)
	}
	return b[3], binary.BigEndian.Uint64(b[4:]), nil
}

func appendServerHello(b []byte, status byte, clusterID uint64, maxRequest uint32) []byte {
	b = append(b, magic[:]...)
	b = append(b, version, status)
	b = binary.BigEndian.AppendUint64(b, clusterID)
	return binary.BigEndian.AppendUint32(b, maxRequest)
}

type serverHello struct {
	version    byte
	status     byte
	clusterID  uint64
	maxRequest uint32
}

func parseServerHello(b []byte) (serverHello, error) {
	if len(b) != serverHelloLen || [3]byte(b[:3]) != magic {
		return serverHello{}, ErrUnsupported
	}
	return serverHello{version: b[3], status: b[4], clusterID: binary.BigEndian.Uint64(b[5:]),
		maxRequest: binary.BigEndian.Uint32(b[13:])}, nil
}

// encodeRequest returns the whole frame, length prefix included, with id left zero: the
// connection that sends it fills the id in (putID).
func encodeRequest(req *Request) []byte {
	n := requestFixedLen + len(req.Body)
	b := make([]byte, frameHeaderLen+n)
	binary.BigEndian.PutUint32(b, uint32(n))
	b[frameHeaderLen+8] = req.Flags
	ms := req.Timeout.Milliseconds()
	switch {
	case req.Timeout <= 0:
		ms = 0
	case ms == 0:
		ms = 1 // under a millisecond left is not "unbounded"
	case ms > 1<<32-1:
		ms = 1<<32 - 1
	}
	binary.BigEndian.PutUint32(b[frameHeaderLen+9:], uint32(ms))
	copy(b[frameHeaderLen+requestFixedLen:], req.Body)
	return b
}

func putID(frame []byte, id uint64) { binary.BigEndian.PutUint64(frame[frameHeaderLen:], id) }

// requestPayloadLen is what a request of body length n occupies after the length prefix.
func requestPayloadLen(n int) int { return requestFixedLen + n }

func decodeRequest(p []byte) (id uint64, req *Request, err error) {
	if len(p) < requestFixedLen {
		return 0, nil, fmt.Errorf("%w: request of %d bytes", errMalformed, len(p))
	}
	id = binary.BigEndian.Uint64(p)
	req = &Request{Flags: p[8], Timeout: time.Duration(binary.BigEndian.Uint32(p[9:])) * time.Millisecond,
		Body: p[requestFixedLen:]}
	return id, req, nil
}

// encodeReply returns the whole frame, length prefix included.
func encodeReply(id uint64, r *Reply) ([]byte, error) {
	if len(r.Fields) > maxFields {
		return nil, fmt.Errorf("relay: %d header fields, at most %d", len(r.Fields), maxFields)
	}
	if r.Status < 0 || r.Status > 0xffff {
		return nil, fmt.Errorf("relay: status %d", r.Status)
	}
	n := replyFixedLen + len(r.Body)
	for _, f := range r.Fields {
		n += 2*binary.MaxVarintLen32 + len(f.Name) + len(f.Value)
	}
	b := make([]byte, frameHeaderLen, frameHeaderLen+n)
	b = binary.BigEndian.AppendUint64(b, id)
	kind := byte(kindAnswer)
	if r.NotLeader {
		kind = kindNotLeader
	}
	b = append(b, kind)
	b = binary.BigEndian.AppendUint16(b, uint16(r.Status))
	b = append(b, byte(len(r.Fields)))
	for _, f := range r.Fields {
		b = binary.AppendUvarint(b, uint64(len(f.Name)))
		b = append(b, f.Name...)
		b = binary.AppendUvarint(b, uint64(len(f.Value)))
		b = append(b, f.Value...)
	}
	b = append(b, r.Body...)
	binary.BigEndian.PutUint32(b, uint32(len(b)-frameHeaderLen))
	return b, nil
}

// encodeIndexReply returns the whole frame answering read-index request id.
func encodeIndexReply(id, idx uint64, err error) []byte {
	kind, body := byte(kindIndex), binary.BigEndian.AppendUint64(nil, idx)
	switch {
	case errors.Is(err, ErrNotLeader):
		kind, body = kindNotLeader, nil
	case err != nil:
		kind, body = kindIndexError, []byte(err.Error())
	}
	n := replyFixedLen + len(body)
	b := binary.BigEndian.AppendUint32(make([]byte, 0, frameHeaderLen+n), uint32(n))
	b = binary.BigEndian.AppendUint64(b, id)
	b = append(b, kind, 0, 0, 0) // status and field count: none
	return append(b, body...)
}

func decodeReply(p []byte) (id uint64, r *Reply, err error) {
	if len(p) < replyFixedLen {
		return 0, nil, fmt.Errorf("%w: reply of %d bytes", errMalformed, len(p))
	}
	id = binary.BigEndian.Uint64(p)
	r = &Reply{Status: int(binary.BigEndian.Uint16(p[9:])), kind: p[8]}
	switch r.kind {
	case kindAnswer, kindIndexError:
	case kindNotLeader:
		r.NotLeader = true
	case kindIndex:
		if len(p) != replyFixedLen+8 || p[11] != 0 {
			return 0, nil, fmt.Errorf("%w: read index reply of %d bytes", errMalformed, len(p))
		}
	case kindCommit:
		if len(p) != replyFixedLen+16 || p[11] != 0 {
			return 0, nil, fmt.Errorf("%w: commit notice of %d bytes", errMalformed, len(p))
		}
	default:
		return 0, nil, fmt.Errorf("%w: reply kind %d", errMalformed, p[8])
	}
	count := int(p[11])
	rest := p[replyFixedLen:]
	str := func() (string, bool) {
		l, k := binary.Uvarint(rest)
		if k <= 0 || l > uint64(len(rest)-k) {
			return "", false
		}
		s := string(rest[k : k+int(l)])
		rest = rest[k+int(l):]
		return s, true
	}
	if count > 0 {
		r.Fields = make([]Field, count)
	}
	for i := range r.Fields {
		name, ok1 := str()
		value, ok2 := str()
		if !ok1 || !ok2 {
			return 0, nil, fmt.Errorf("%w: truncated header field", errMalformed)
		}
		r.Fields[i] = Field{Name: name, Value: value}
	}
	r.Body = rest
	return id, r, nil
}

// readFrame reads one frame's payload, refusing one over limit bytes before allocating it.
func readFrame(br *bufio.Reader, limit int) ([]byte, error) {
	var h [frameHeaderLen]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if uint64(n) > uint64(limit) {
		return nil, fmt.Errorf("%w: frame of %d bytes, over the limit of %d", errMalformed, n, limit)
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF
		}
		return nil, err
	}
	return p, nil
}

// writeLoop writes the frames take hands it until take reports the connection closed or a
// write fails. It flushes only once take has nothing more, so frames queued while a write was
// under way go out together in one syscall. Before flushing it yields once (up to
// yieldRounds times while frames keep coming): the goroutines that produce frames are usually
// runnable at that moment (the answers of one applied raft batch, the requests of clients
// served together), and a write per frame costs more than the frame (a loopback write also
// runs the receiver's TCP path, and wakes it).
func writeLoop(bw *bufio.Writer, wake <-chan struct{}, take func([][]byte) ([][]byte, bool), m *metrics.Set) error {
	sent := m.RelayFrames.WithLabelValues("sent")
	var batch [][]byte
	for range wake {
		for round := 0; ; {
			var open bool
			batch, open = take(batch[:0])
			if !open {
				return ErrClosed
			}
			if len(batch) == 0 {
				if bw.Buffered() == 0 || round >= yieldRounds {
					break
				}
				round++
				runtime.Gosched()
				continue
			}
			for i, f := range batch {
				if _, err := bw.Write(f); err != nil {
					return err
				}
				batch[i] = nil
			}
			sent.Add(float64(len(batch)))
		}
		if bw.Buffered() == 0 {
			continue
		}
		if err := bw.Flush(); err != nil {
			return err
		}
	}
	return ErrClosed
}

// yieldRounds bounds how often writeLoop lets other goroutines run before it flushes: frames
// still coming after that go out in the next write.
const yieldRounds = 2

// signal wakes a writer without blocking; one pending wake-up covers any number of frames.
func signal(wake chan struct{}) {
	select {
	case wake <- struct{}{}:
	default:
	}
}

// Field returns the value of the answer's header field name ("" when absent).
func (r *Reply) Field(name string) string {
	for _, f := range r.Fields {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}
