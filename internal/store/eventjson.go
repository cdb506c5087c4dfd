package store

import (
	"strconv"
	"time"
	"unicode/utf8"
)

// AppendJSON appends e as encoding/json would marshal it, byte for byte (HTML-escaped, invalid
// UTF-8 replaced), without reflection: every keys answer and every watch event is rendered
// this way, so it is the hottest encoder in the server. eventjson_test.go holds it to
// encoding/json's output.
func (e *Event) AppendJSON(b []byte) []byte {
	b = append(b, `{"action":`...)
	b = appendJSONString(b, e.Action)
	if e.Node != nil {
		b = append(b, `,"node":`...)
		b = e.Node.AppendJSON(b)
	}
	if e.PrevNode != nil {
		b = append(b, `,"prevNode":`...)
		b = e.PrevNode.AppendJSON(b)
	}
	return append(b, '}')
}

// AppendJSON appends n as encoding/json would marshal it.
func (n *NodeExtern) AppendJSON(b []byte) []byte {
	b = append(b, '{')
	first := true
	field := func(name string) {
		if !first {
			b = append(b, ',')
		}
		first = false
		b = append(b, '"')
		b = append(b, name...)
		b = append(b, `":`...)
	}
	if n.Key != "" {
		field("key")
		b = appendJSONString(b, n.Key)
	}
	if n.Value != nil {
		field("value")
		b = appendJSONString(b, *n.Value)
	}
	if n.Dir {
		field("dir")
		b = append(b, "true"...)
	}
	if n.Expiration != nil {
		field("expiration")
		b = append(b, '"')
		b = n.Expiration.AppendFormat(b, time.RFC3339Nano)
		b = append(b, '"')
	}
	if n.TTL != 0 {
		field("ttl")
		b = strconv.AppendInt(b, n.TTL, 10)
	}
	if len(n.Nodes) > 0 {
		field("nodes")
		b = append(b, '[')
		for i, c := range n.Nodes {
			if i > 0 {
				b = append(b, ',')
			}
			if c == nil {
				b = append(b, "null"...)
				continue
			}
			b = c.AppendJSON(b)
		}
		b = append(b, ']')
	}
	if n.ModifiedIndex != 0 {
		field("modifiedIndex")
		b = strconv.AppendUint(b, n.ModifiedIndex, 10)
	}
	if n.CreatedIndex != 0 {
		field("createdIndex")
		b = strconv.AppendUint(b, n.CreatedIndex, 10)
	}
	return append(b, '}')
}

const hexDigits = "0123456789abcdef"

// appendJSONString quotes s the way encoding/json does with HTML escaping on.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(b, s[start:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
