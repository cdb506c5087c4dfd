// Package quorum is what both sides of Cairn's quorum-query protocol share: the codec (the
// byte layout of signed requests and replies), the JSON shapes of the answers, the default
// port and the loading of the shared HMAC key. The UDP server (internal/quorum) and the client
// (client/quorum) both build on it; neither imports the other.
//
// It owns encoding, decoding, HMAC verification and reading the key file only. It must never
// touch the network,
// keep state between packets, or allocate while rejecting a packet: a packet that fails a
// check is refused before any of its variable-length fields is copied.
//
// # Layout (version 1)
//
// All integers are big-endian. Every packet starts with the same six bytes and ends with
// HMAC-SHA256(key, every byte before the MAC). The MAC covers the exact bytes sent, so no
// field can be changed, added or removed without the key.
//
//	header   magic "CRNQ" (4) | version 0x01 (1) | kind (1): 0x01 request, 0x02 reply
//	request  timestamp int64 unix nanoseconds (8) | salt (16) | query type (1) |
//	         query length uint16 (2) | query bytes
//	reply    salt (16) | status (1) | index uint64 (8) | node-name length uint16 (2) |
//	         node name | answer length uint32 (4) | answer bytes
//	trailer  HMAC-SHA256 (32)
//
// A packet whose declared lengths do not add up to its size exactly is garbage. Query types
// a server does not know are still valid requests: the server answers them with
// StatusNotImplemented, so newer clients can probe older servers.
package quorum

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"hash"
)

// Magic opens every packet; Version is the only layout this package speaks.
const (
	Magic   = "CRNQ"
	Version = 1
)

// Packet kinds (byte 5).
const (
	KindRequest = 1
	KindReply   = 2
)

// Fixed sizes of the layout.
const (
	SaltSize   = 16
	MACSize    = sha256.Size
	headerSize = len(Magic) + 2

	// MinRequestSize is a request with an empty query.
	MinRequestSize = headerSize + 8 + SaltSize + 1 + 2 + MACSize
	// MinReplySize is a reply with an empty node name and answer.
	MinReplySize = headerSize + SaltSize + 1 + 8 + 2 + 4 + MACSize
	// MaxDatagram is the largest UDP payload over IPv4; no reply may exceed it.
	MaxDatagram = 65507
)

// QueryType selects what a request asks.
type QueryType uint8

// The query types of version 1.
const (
	QueryPing     QueryType = 1 // liveness; answer: true
	QueryKey      QueryType = 2 // query: key path; answer: KeyAnswer
	QueryLeader   QueryType = 3 // answer: LeaderAnswer
	QueryMembers  QueryType = 4 // answer: []Member, sorted by name
	QueryNodeRole QueryType = 5 // query: member name; answer: NodeRoleAnswer
)

func (q QueryType) String() string {
	switch q {
	case QueryPing:
		return "ping"
	case QueryKey:
		return "key"
	case QueryLeader:
		return "leader"
	case QueryMembers:
		return "members"
	case QueryNodeRole:
		return "node_role"
	}
	return "unknown"
}

// Status says whether a reply's answer can be used.
type Status uint8

// Reply statuses. Only StatusOK carries an answer in the query type's shape; the others
// carry a human-readable message.
const (
	StatusOK             Status = 0
	StatusError          Status = 1
	StatusNotImplemented Status = 2
)

func (s Status) String() string {
	switch s {
	case StatusOK:
		return "ok"
	case StatusError:
		return "error"
	case StatusNotImplemented:
		return "not-implemented"
	}
	return "unknown"
}

// Decoding errors. Each names one reason a receiver drops a packet, so servers can count
// them apart.
var (
	ErrGarbage = errors.New("quorum wire: malformed packet")
	ErrVersion = errors.New("quorum wire: unsupported protocol version")
	ErrKind    = errors.New("quorum wire: unexpected packet kind")
	ErrMAC     = errors.New("quorum wire: HMAC mismatch")
	ErrTooLong = errors.New("quorum wire: field too long for the packet format")
)

// Request is a decoded request packet.
type Request struct {
	Timestamp int64 // unix nanoseconds, set by the sender
	Salt      [SaltSize]byte
	Type      QueryType
	Query     string
}

// Reply is a decoded reply packet.
type Reply struct {
	Salt   [SaltSize]byte
	Status Status
	Index  uint64
	Node   string
	Answer []byte
}

// Codec signs and verifies packets with one key. It reuses one HMAC state, so it is not
// safe for concurrent use; give each goroutine its own.
type Codec struct {
	mac hash.Hash
	sum [MACSize]byte
}

// NewCodec returns a codec for key. An empty key is refused: it would make every MAC
// forgeable.
func NewCodec(key []byte) (*Codec, error) {
	if len(key) == 0 {
		return nil, errors.New("quorum wire: empty HMAC key")
	}
	return &Codec{mac: hmac.New(sha256.New, key)}, nil
}

// AppendRequest appends the signed encoding of r to dst.
func (c *Codec) AppendRequest(dst []byte, r *Request) ([]byte, error) {
	if len(r.Query) > 0xFFFF {
		return dst, ErrTooLong
	}
	start := len(dst)
	dst = appendHeader(dst, KindRequest)
	dst = binary.BigEndian.AppendUint64(dst, uint64(r.Timestamp))
	dst = append(dst, r.Salt[:]...)
	dst = append(dst, byte(r.Type))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Query)))
	dst = append(dst, r.Query...)
	return c.sign(dst, start), nil
}

// AppendReply appends the signed encoding of r to dst.
func (c *Codec) AppendReply(dst []byte, r *Reply) ([]byte, error) {
	if len(r.Node) > 0xFFFF || len(r.Answer) > MaxDatagram {
		return dst, ErrTooLong
	}
	start := len(dst)
	dst = appendHeader(dst, KindReply)
	dst = append(dst, r.Salt[:]...)
	dst = append(dst, byte(r.Status))
	dst = binary.BigEndian.AppendUint64(dst, r.Index)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(r.Node)))
	dst = append(dst, r.Node...)
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(r.Answer)))
	dst = append(dst, r.Answer...)
	return c.sign(dst, start), nil
}

// DecodeRequest verifies and decodes one request packet into r. Nothing is copied out of
// b until the MAC has been checked.
func (c *Codec) DecodeRequest(b []byte, r *Request) error {
	if err := c.verify(b, KindRequest, MinRequestSize); err != nil {
		return err
	}
	body := b[headerSize : len(b)-MACSize]
	qlen := int(binary.BigEndian.Uint16(body[8+SaltSize+1:]))
	if len(body) != 8+SaltSize+1+2+qlen {
		return ErrGarbage
	}
	r.Timestamp = int64(binary.BigEndian.Uint64(body))
	copy(r.Salt[:], body[8:])
	r.Type = QueryType(body[8+SaltSize])
	r.Query = string(body[8+SaltSize+3:])
	return nil
}

// DecodeReply verifies and decodes one reply packet into r. r.Answer is a fresh copy.
func (c *Codec) DecodeReply(b []byte, r *Reply) error {
	if err := c.verify(b, KindReply, MinReplySize); err != nil {
		return err
	}
	body := b[headerSize : len(b)-MACSize]
	const fixed = SaltSize + 1 + 8
	nlen := int(binary.BigEndian.Uint16(body[fixed:]))
	rest := body[fixed+2:]
	if len(rest) < nlen+4 {
		return ErrGarbage
	}
	alen := uint64(binary.BigEndian.Uint32(rest[nlen:]))
	if uint64(len(rest)) != uint64(nlen)+4+alen {
		return ErrGarbage
	}
	copy(r.Salt[:], body)
	r.Status = Status(body[SaltSize])
	r.Index = binary.BigEndian.Uint64(body[SaltSize+1:])
	r.Node = string(rest[:nlen])
	r.Answer = append([]byte(nil), rest[nlen+4:]...)
	return nil
}

// verify checks the cheap header fields first and the MAC last, so garbage costs only a
// few comparisons.
func (c *Codec) verify(b []byte, kind byte, minSize int) error {
	if len(b) < headerSize || string(b[:len(Magic)]) != Magic {
		return ErrGarbage
	}
	if b[len(Magic)] != Version {
		return ErrVersion
	}
	if b[len(Magic)+1] != kind {
		return ErrKind
	}
	if len(b) < minSize {
		return ErrGarbage
	}
	signed := b[:len(b)-MACSize]
	c.mac.Reset()
	c.mac.Write(signed)
	if !hmac.Equal(c.mac.Sum(c.sum[:0]), b[len(signed):]) {
		return ErrMAC
	}
	return nil
}

func (c *Codec) sign(dst []byte, start int) []byte {
	c.mac.Reset()
	c.mac.Write(dst[start:])
	return c.mac.Sum(dst)
}

func appendHeader(dst []byte, kind byte) []byte {
	dst = append(dst, Magic...)
	return append(dst, Version, kind)
}
