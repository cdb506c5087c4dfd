package fsm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// CommandType is the first byte of every Cairn log entry; it selects the applier.
type CommandType uint8

const (
	CmdPut          CommandType = 1
	CmdPost         CommandType = 2
	CmdDelete       CommandType = 3
	CmdExpire       CommandType = 4
	CmdMemberSet    CommandType = 5
	CmdMemberRemove CommandType = 6
	CmdNoop         CommandType = 7
	// CmdAuth changes users, roles or the enabled flag; Value holds the
	// auth.Command's own encoding.
	CmdAuth CommandType = 8
	// CmdClusterVersion raises the cluster's level (level.go); Value holds it in decimal.
	CmdClusterVersion CommandType = 9
	// CmdBatch is an entry of several key commands (batch.go); it is never a Command itself.
	CmdBatch CommandType = 10
)

func (t CommandType) String() string {
	switch t {
	case CmdPut:
		return "put"
	case CmdPost:
		return "post"
	case CmdDelete:
		return "delete"
	case CmdExpire:
		return "expire"
	case CmdMemberSet:
		return "memberSet"
	case CmdMemberRemove:
		return "memberRemove"
	case CmdNoop:
		return "noop"
	case CmdAuth:
		return "auth"
	case CmdClusterVersion:
		return "clusterVersion"
	case CmdBatch:
		return "batch"
	}
	return fmt.Sprintf("CommandType(%d)", uint8(t))
}

func (t CommandType) valid() bool { return t >= CmdPut && t <= CmdBatch }

// encodingVersion is the second byte of every entry. A replica that meets a
// version it does not know refuses the entry (a Result error) rather than
// guessing, so an upgrade must roll out readers before writers.
const encodingVersion = 1

// Flag bits of the third byte.
const (
	flagPrevExistSet = 1 << iota
	flagPrevExist
	flagDir
	flagRecursive
	flagRefresh
	flagMember

	flagsKnown = flagMember<<1 - 1
)

// Member flag bits.
const (
	memberLearner = 1 << iota
	memberEvacuated
	// memberQuorumPort: a uvarint quorum port follows the flags. Entries written before the
	// port existed lack both, and read as a member without one.
	memberQuorumPort

	memberFlagsKnown = memberQuorumPort<<1 - 1
)

// Command is one replicated operation. Time is the leader's wall clock (unix
// nanoseconds) when it proposed the command: every replica derives expiry
// times from it, never from its own clock.
type Command struct {
	Type                  CommandType
	Key, Value, PrevValue string
	PrevIndex             uint64
	PrevExist             *bool // nil = not given
	Dir, Recursive        bool
	Refresh               bool
	TTL                   int64 // seconds; 0 = permanent
	Time                  int64 // unix nanos, stamped by the leader
	Member                *Member
}

// Member is one entry of the replicated member table.
type Member struct {
	ID                  uint64
	Name                string
	PeerURLs            []string
	ClientURLs          []string
	AlternateClientURLs []string
	Rack                int
	Learner             bool
	Evacuated           bool
	// QuorumPort is the UDP port the member serves quorum queries on; 0: none. Left out of
	// JSON when 0, so that states written down before it existed still compare equal.
	QuorumPort int `json:",omitempty"`
}

// ErrMalformed is wrapped by every Unmarshal failure.
var ErrMalformed = errors.New("fsm: malformed command")

// Marshal encodes c compactly: type, version, flags, then length-prefixed
// fields. It allocates exactly once.
func (c *Command) Marshal() []byte {
	b := make([]byte, 0, c.size())
	b = append(b, byte(c.Type), encodingVersion, c.flags())
	b = appendString(b, c.Key)
	b = appendString(b, c.Value)
	b = appendString(b, c.PrevValue)
	b = binary.AppendUvarint(b, c.PrevIndex)
	b = binary.AppendVarint(b, c.TTL)
	b = binary.BigEndian.AppendUint64(b, uint64(c.Time))
	if c.Member != nil {
		b = c.Member.appendTo(b)
	}
	return b
}

func (c *Command) flags() byte {
	var f byte
	if c.PrevExist != nil {
		f |= flagPrevExistSet
		if *c.PrevExist {
			f |= flagPrevExist
		}
	}
	if c.Dir {
		f |= flagDir
	}
	if c.Recursive {
		f |= flagRecursive
	}
	if c.Refresh {
		f |= flagRefresh
	}
	if c.Member != nil {
		f |= flagMember
	}
	return f
}

func (c *Command) size() int {
	n := 3 + strSize(c.Key) + strSize(c.Value) + strSize(c.PrevValue) +
		binary.MaxVarintLen64*2 + 8
	if c.Member != nil {
		n += c.Member.size()
	}
	return n
}

func (m *Member) size() int {
	n := binary.MaxVarintLen64*3 + 1 + strSize(m.Name)
	for _, l := range [][]string{m.PeerURLs, m.ClientURLs, m.AlternateClientURLs} {
		n += binary.MaxVarintLen64
		for _, s := range l {
			n += strSize(s)
		}
	}
	return n
}

func (m *Member) appendTo(b []byte) []byte {
	b = binary.AppendUvarint(b, m.ID)
	b = appendString(b, m.Name)
	b = appendStrings(b, m.PeerURLs)
	b = appendStrings(b, m.ClientURLs)
	b = appendStrings(b, m.AlternateClientURLs)
	b = binary.AppendVarint(b, int64(m.Rack))
	var f byte
	if m.Learner {
		f |= memberLearner
	}
	if m.Evacuated {
		f |= memberEvacuated
	}
	if m.QuorumPort > 0 {
		f |= memberQuorumPort
	}
	b = append(b, f)
	if m.QuorumPort > 0 {
		b = binary.AppendUvarint(b, uint64(m.QuorumPort))
	}
	return b
}

func strSize(s string) int { return binary.MaxVarintLen64 + len(s) }

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, l []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(l)))
	for _, s := range l {
		b = appendString(b, s)
	}
	return b
}

// Unmarshal decodes an entry written by Marshal. It never panics: every
// length is checked against what is left, so a corrupt or hostile entry is an
// error wrapping ErrMalformed.
func Unmarshal(b []byte) (*Command, error) {
	c := new(Command)
	if err := c.unmarshal(b); err != nil {
		return nil, err
	}
	return c, nil
}

// unmarshal decodes b into c, which must be zero; the apply loop decodes
// into a Command it reuses, so that decoding allocates only the strings.
func (c *Command) unmarshal(b []byte) error {
	if len(b) < 3 {
		return fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	c.Type = CommandType(b[0])
	if !c.Type.valid() {
		return fmt.Errorf("%w: unknown type %d", ErrMalformed, b[0])
	}
	if c.Type == CmdBatch {
		return fmt.Errorf("%w: a batch entry is not a single command", ErrMalformed)
	}
	if b[1] != encodingVersion {
		return fmt.Errorf("%w: unknown encoding version %d", ErrMalformed, b[1])
	}
	f := b[2]
	if f&^flagsKnown != 0 || f&(flagPrevExistSet|flagPrevExist) == flagPrevExist {
		return fmt.Errorf("%w: flags %#x", ErrMalformed, f)
	}
	if f&flagPrevExistSet != 0 {
		v := f&flagPrevExist != 0
		c.PrevExist = &v
	}
	c.Dir = f&flagDir != 0
	c.Recursive = f&flagRecursive != 0
	c.Refresh = f&flagRefresh != 0
	d := decoder{b: b[3:]}
	c.Key = d.string()
	c.Value = d.string()
	c.PrevValue = d.string()
	c.PrevIndex = d.uvarint()
	c.TTL = d.varint()
	c.Time = int64(d.uint64())
	if f&flagMember != 0 {
		c.Member = d.member()
	}
	if d.err != nil {
		return d.err
	}
	if len(d.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrMalformed, len(d.b))
	}
	return nil
}

// decoder keeps the first error and turns every later read into a no-op, so
// the field-by-field decoding above stays linear.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail(what string) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: bad or truncated %s", ErrMalformed, what)
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	// Only the shortest form is accepted, so that every command has exactly
	// one encoding.
	if n <= 0 || n > 1 && d.b[n-1] == 0 {
		d.fail("uvarint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 || n > 1 && d.b[n-1] == 0 {
		d.fail("varint")
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uint64() uint64 {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 8 {
		d.fail("uint64")
		return 0
	}
	v := binary.BigEndian.Uint64(d.b)
	d.b = d.b[8:]
	return v
}

func (d *decoder) byte() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) < 1 {
		d.fail("byte")
		return 0
	}
	v := d.b[0]
	d.b = d.b[1:]
	return v
}

func (d *decoder) string() string {
	n := d.uvarint()
	if d.err != nil {
		return ""
	}
	if n > uint64(len(d.b)) {
		d.fail("string")
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

func (d *decoder) strings() []string {
	n := d.uvarint()
	if d.err != nil {
		return nil
	}
	// Every string takes at least its one length byte: a count beyond the
	// remaining bytes is corrupt, and checking it first bounds the allocation.
	if n > uint64(len(d.b)) {
		d.fail("list")
		return nil
	}
	if n == 0 {
		return nil
	}
	l := make([]string, n)
	for i := range l {
		l[i] = d.string()
	}
	return l
}

func (d *decoder) member() *Member {
	m := &Member{ID: d.uvarint()}
	m.Name = d.string()
	m.PeerURLs = d.strings()
	m.ClientURLs = d.strings()
	m.AlternateClientURLs = d.strings()
	m.Rack = int(d.varint())
	f := d.byte()
	if f&^memberFlagsKnown != 0 && d.err == nil {
		d.err = fmt.Errorf("%w: member flags %#x", ErrMalformed, f)
		d.b = nil
	}
	m.Learner = f&memberLearner != 0
	m.Evacuated = f&memberEvacuated != 0
	if f&memberQuorumPort != 0 {
		// Only a port that re-encodes to the same bytes: 1-65535.
		if p := d.uvarint(); d.err == nil && (p == 0 || p > 65535) {
			d.err = fmt.Errorf("%w: quorum port %d", ErrMalformed, p)
			d.b = nil
		} else {
			m.QuorumPort = int(p)
		}
	}
	return m
}
