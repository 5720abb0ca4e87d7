package protocol

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"
)

// decodeRouted is DecodeClient's fast path for the bulk of the traffic, the
// routed messages: exactly the members type, state, to and data, in any
// order, with lowercase names and no escapes in the three strings. It reads
// them by hand after one validation pass (json.Valid), with no reflection;
// for any other shape ok is false and DecodeClient takes encoding/json's
// path, so that both paths give the same Message (FuzzDecodeRouted).
func decodeRouted(b []byte) (m *Message, ok bool) {
	if !json.Valid(b) {
		return nil, false
	}
	var typ, state, to, data []byte
	i := skipSpace(b, 1)
	for i < len(b) && b[i] == '"' {
		key, next, ok := plainString(b, i)
		if !ok {
			return nil, false
		}
		i = skipSpace(b, skipSpace(b, next)+1) // past the ':'
		var v *[]byte
		switch string(key) {
		case "type":
			v = &typ
		case "state":
			v = &state
		case "to":
			v = &to
		case "data":
			v = &data
		default:
			return nil, false
		}
		if *v != nil {
			return nil, false // a duplicate: encoding/json keeps the last
		}
		if v == &data {
			end := skipValue(b, i)
			*v, i = b[i:end], end
		} else {
			if b[i] != '"' {
				return nil, false
			}
			s, next, ok := plainString(b, i)
			if !ok {
				return nil, false
			}
			*v, i = s, next
		}
		i = skipSpace(b, i)
		if b[i] == ',' {
			i = skipSpace(b, i+1)
		}
	}
	if to == nil || data == nil || !utf8.Valid(to) {
		return nil, false
	}
	var st State
	switch string(state) {
	case string(SdpOffer):
		st = SdpOffer
	case string(SdpAnswer):
		st = SdpAnswer
	case string(IceCandidate):
		st = IceCandidate
	default:
		return nil, false
	}
	if string(typ) != Type {
		return nil, false // refused; encoding/json's path says why
	}
	return &Message{Type: Type, State: st, To: PeerID(to), Data: bytes.Clone(data)}, true
}

// plainString returns the contents of the JSON string starting at b[i] and
// the index after it; ok is false when it has escapes. b is valid JSON.
func plainString(b []byte, i int) (s []byte, next int, ok bool) {
	end := bytes.IndexByte(b[i+1:], '"')
	if end < 0 {
		return nil, 0, false
	}
	s = b[i+1 : i+1+end]
	if bytes.IndexByte(s, '\\') >= 0 {
		return nil, 0, false
	}
	return s, i + end + 2, true
}

// skipValue returns the index after the JSON value starting at b[i]; b is
// valid JSON.
func skipValue(b []byte, i int) int {
	depth := 0
	for ; i < len(b); i++ {
		switch b[i] {
		case '"':
			for i++; b[i] != '"'; i++ {
				if b[i] == '\\' {
					i++
				}
			}
			if depth == 0 {
				return i + 1
			}
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				return i + 1
			}
			if depth < 0 {
				return i // the end of the enclosing object: a scalar ended here
			}
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return i // the end of a scalar
			}
		}
	}
	return i
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}
