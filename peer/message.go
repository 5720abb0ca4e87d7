package peer

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Message is a Data message delivered to a peer: every peer, the sender
// included, gets each one exactly once, relayed by the host in the host's
// order.
type Message struct {
	From protocol.PeerID // the sender ("senderId"); the host's id for the host's own messages
	Data json.RawMessage // any JSON value, as the sender sent it ("null" when it sent none); nil for a binary message
	// Binary is the payload of a binary message (Send with a []byte, or a
	// browser's ArrayBuffer or Uint8Array); nil for a JSON one.
	Binary []byte
	// Channel is the named channel it came on (Peer.OpenChannel); "" for
	// the default channel.
	Channel string
}

// Text returns Data as a string: the value of a JSON string, or the JSON
// text itself for any other value (a binary message: its bytes).
func (m Message) Text() string {
	if m.Data == nil {
		return string(m.Binary)
	}
	var s string
	if json.Unmarshal(m.Data, &s) == nil {
		return s
	}
	return string(m.Data)
}

// Decode unmarshals Data into v.
func (m Message) Decode(v any) error { return json.Unmarshal(m.Data, v) }

func (m Message) String() string { return fmt.Sprintf("%s: %s", m.From, m.Data) }

// The peer message types (PROTOCOL.md, "Peer messages").
const (
	typeData      = protocol.MsgData
	typeState     = protocol.MsgStates
	typeHeartbeat = protocol.MsgHeartbeat
	typeError     = protocol.MsgError
	typeHostState = protocol.MsgHostState
)

// DataChannelLabel is the label of the DataChannel the host opens for each
// client.
const DataChannelLabel = protocol.DataChannelLabel

// wire is one peer message on the DataChannel, either direction.
type wire struct {
	Type     string          `json:"type"`
	SenderID protocol.PeerID `json:"senderId,omitempty"`
	Data     json.RawMessage `json:"data,omitempty"`
	Code     protocol.Code   `json:"code,omitempty"`    // Error
	Text     string          `json:"message,omitempty"` // Error
	After    uint64          `json:"after,omitempty"`   // Data.Host.State: Data messages sent before it that it does not hold
	Binary   []byte          `json:"-"`                 // a binary Data message's payload

	tooLarge bool // a chunked message over the absolute bound, dropped
}

var heartbeatMsg = `{"type":"Heartbeat"}`

// decodeWire parses a DataChannel message. Unknown types are returned as is
// for the caller to ignore.
func decodeWire(b []byte) (wire, error) {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return w, err
	}
	if len(w.Data) == 0 {
		w.Data = json.RawMessage("null")
	}
	return w, nil
}

// encodeData is the client's Data message: {"type":"Data","data":...}.
func encodeData(data json.RawMessage) string {
	var b strings.Builder
	b.Grow(len(data) + 24)
	b.WriteString(`{"type":"Data","data":`)
	b.Write(data)
	b.WriteByte('}')
	return b.String()
}

// encodeRelay is the host's relayed Data message, with the sender.
func encodeRelay(from protocol.PeerID, data json.RawMessage) string {
	q := protocol.Quote(string(from))
	var b strings.Builder
	b.Grow(len(data) + len(q) + 40)
	b.WriteString(`{"type":"Data","senderId":`)
	b.Write(q)
	b.WriteString(`,"data":`)
	b.Write(data)
	b.WriteByte('}')
	return b.String()
}

// encodeStates is the host's Data.Connection.State message.
func encodeStates(states map[protocol.PeerID]State) string {
	b, err := json.Marshal(struct {
		Type string                    `json:"type"`
		Data map[protocol.PeerID]State `json:"data"`
	}{typeState, states})
	if err != nil { // unreachable: every State in the map is valid
		return `{"type":"Data.Connection.State","data":{}}`
	}
	return string(b)
}

// decodeStates parses the data of a Data.Connection.State message, skipping
// states this version does not know.
func decodeStates(data json.RawMessage) (map[protocol.PeerID]State, error) {
	var raw map[protocol.PeerID]string
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	out := make(map[protocol.PeerID]State, len(raw))
	for id, name := range raw {
		if s, err := ParseState(name); err == nil {
			out[id] = s
		}
	}
	return out, nil
}

// encodeError is the host's refusal of a client's message.
func encodeError(code protocol.Code, text string) string {
	b, _ := json.Marshal(wire{Type: typeError, Code: code, Text: text})
	return string(b)
}

// marshalData turns the argument of Send into the JSON value to send; a
// []byte is sent as binary (bin), as it is.
func marshalData(v any) (raw json.RawMessage, bin []byte, err error) {
	if b, ok := v.([]byte); ok {
		if b == nil {
			b = []byte{}
		}
		return nil, b, nil
	}
	raw, err = marshalJSON(v)
	return raw, nil, err
}

func marshalJSON(v any) (json.RawMessage, error) {
	if raw, ok := v.(json.RawMessage); ok {
		if !json.Valid(raw) {
			return nil, fmt.Errorf("peer: data is not valid JSON")
		}
		return raw, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("peer: marshal data: %w", err)
	}
	return b, nil
}
