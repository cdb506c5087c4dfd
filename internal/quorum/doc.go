// Package quorum is the UDP server of Cairn's quorum queries (default port 2381): it
// answers small, HMAC-signed, read-only questions — PING, KEY, LEADER, MEMBERS, NODE_ROLE —
// from the node's local state, so clients can ask several members at once and trust the
// answer with the highest index once a safe number agree (see client/quorum).
//
// It owns the socket, the checks that decide which packets deserve an answer, the replay
// cache and its counters. It must never write to the store or the raft log, never answer
// a packet that fails a check (no error reply that an attacker could use as an oracle or
// an amplifier), and never allocate in proportion to anything a sender controls.
//
// # Wire format (version 1)
//
// The codec is api/quorum, shared with the client. Big-endian integers; every
// packet is
//
//	"CRNQ" | version 0x01 | kind (0x01 request, 0x02 reply) | body | HMAC-SHA256(key, all preceding bytes)
//
//	request body: timestamp int64 unix ns | salt [16] | query type u8 | query len u16 | query
//	reply body:   salt [16] | status u8 (0 ok, 1 error, 2 not-implemented) | index u64 |
//	              node name len u16 | node name | answer len u32 | answer (JSON)
//
// Query types: 1 PING, 2 KEY (query: key path), 3 LEADER, 4 MEMBERS, 5 NODE_ROLE (query:
// member name). A signed request of an unknown type gets StatusNotImplemented. The index
// in a reply is the node's applied index, read before the answer so that it never claims
// newer state than it returns. README.md has the answer shapes.
//
// # What is dropped, silently
//
// In order of cost: packets larger than MaxPacketSize, bytes that do not parse, versions
// other than 1, replies sent to the server, bad HMACs, timestamps more than Window away
// from the server's clock, and salts already seen within the window. Each reason has its
// own counter (Stats and cairn_quorum_dropped_packets_total{reason}). A salt is remembered
// until its timestamp leaves the window, after which the window check alone rejects it; if
// the replay cache is full, new requests are dropped (reason "replay_cache_full") rather
// than forgetting live salts, since only key holders can fill it.
package quorum
