// Package protocol defines the p2pstreams signaling messages: the JSON
// objects that peers and the server exchange over the WebSocket, their
// validation, and the error codes. PROTOCOL.md describes the same wire format
// for people; this package is its single source of truth in Go.
//
// Every message is one WebSocket text frame holding one JSON object whose
// "type" is "Connection" and whose "state" says what it is. The decoder is a
// trust boundary: it bounds sizes, checks every field a state needs, and
// never panics (it is fuzzed).
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Type is the value of "type" in every signaling message (the name p2p_streams_channel uses).
const Type = "Connection"

// MaxIDLength bounds session and peer ids, in bytes.
const MaxIDLength = 64

// SessionID names a session (a room).
type SessionID string

// PeerID names a peer within a session.
type PeerID string

// State says what a signaling message is.
type State string

// The states. Who sends each one is in PROTOCOL.md.
const (
	SessionJoin    State = "SessionJoin"    // peer → server: join with a token
	SessionReady   State = "SessionReady"   // server → peer: a peer is ready in the session
	SdpOffer       State = "SdpOffer"       // peer → peer, through the server
	SdpAnswer      State = "SdpAnswer"      // peer → peer, through the server
	IceCandidate   State = "IceCandidate"   // peer → peer, through the server
	SessionLeave   State = "SessionLeave"   // peer → server: leave the session for good
	PeerLeft       State = "PeerLeft"       // server → host: a peer left; host → server: forget a peer
	HostLeft       State = "HostLeft"       // server → peer: the host is gone, the session was reset
	PeerStates     State = "PeerStates"     // host → server: its peer-state map (presence)
	ServerShutdown State = "ServerShutdown" // server → peer: the server goes away in "seconds"
	Error          State = "Error"          // server → peer: a refused input, with a code
)

// Liveness: a client whose link to its host failed reports it, and the
// server asks the host's own code (not its WebSocket stack) to answer.
const (
	HostUnreachable State = "HostUnreachable" // client → server: my link to host "hostPeerId" failed
	HostProbe       State = "HostProbe"       // server → host: answer HostAlive now
	HostAlive       State = "HostAlive"       // host → server: the answer to HostProbe; server → client: the answer to HostCheck
	HostCheck       State = "HostCheck"       // client → server, before any join: is host "hostPeerId" still served?
)

// Routed reports whether messages in state s go from one peer to another.
func (s State) Routed() bool {
	return s == SdpOffer || s == SdpAnswer || s == IceCandidate
}

// Code is a machine-readable error code, shared with the JS client.
type Code string

// The error codes. Each one is also a WebSocket close reason where the server
// closes the connection for it.
const (
	CodeBadMessage         Code = "bad_message"          // not a JSON object, or a field is missing or wrong
	CodeUnknownState       Code = "unknown_state"        // a type or state this server does not take
	CodeTooLarge           Code = "message_too_large"    // a frame over the size limit (closes)
	CodeBadToken           Code = "bad_token"            // malformed or forged token
	CodeTokenExpired       Code = "token_expired"        // a valid token past its expiry
	CodeNotJoined          Code = "not_joined"           // a message that needs a joined session
	CodeAlreadyJoined      Code = "already_joined"       // a second SessionJoin on one connection
	CodePeerNotFound       Code = "peer_not_found"       // the target peer is not connected in this session
	CodePeerConnected      Code = "peer_connected"       // the token's peer id is connected already
	CodeSessionFull        Code = "session_full"         // the session has its maximum of peers
	CodeNotHost            Code = "not_host"             // a host-only message from a client
	CodeRateLimited        Code = "rate_limited"         // too many messages; this one was dropped
	CodeSlowReader         Code = "slow_reader"          // the peer did not read what was sent to it (closes)
	CodeFlood              Code = "flood"                // kept sending over the rate limit (closes)
	CodeSessionExpired     Code = "session_expired"      // the token's expiry passed while connected (closes)
	CodeJoinTimeout        Code = "join_timeout"         // no SessionJoin in time (closes)
	CodeServerShutdown     Code = "server_shutdown"      // the server is going away (closes)
	CodeUnavailable        Code = "unavailable"          // the store or broker failed; try again
	CodeOriginForbidden    Code = "origin_forbidden"     // refused at the HTTP upgrade (HTTP 403)
	CodeTooManyConnections Code = "too_many_connections" // over the server's connection limits, in all or per client IP (HTTP 503)
	CodePeerRemoved        Code = "peer_removed"         // the server's operator removed this peer (closes; its token is refused)
	CodeSessionClosed      Code = "session_closed"       // the server's operator closed the session (closes)
)

// Liveness codes (PROTOCOL.md, "Liveness").
const (
	CodeHostUnresponsive Code = "host_unresponsive" // the host did not answer HostProbe in time (closes, 1008)
	// CodeICEFailed is the clients' own (never sent by the server): a link
	// that did not connect within the frame config's connect_timeout_mls.
	CodeICEFailed Code = "ice_failed"
	// CodeAlreadyOpen is the browser client's own: this peer is open in
	// another page of the same browser already (PROTOCOL.md, "One page per peer").
	CodeAlreadyOpen Code = "already_open"
	// CodeSuccessorPending: the session's host left and named a successor,
	// which has SuccessorWindow to join and host; until then other joins
	// are refused with this code (a retry: they join the successor then).
	CodeSuccessorPending Code = "successor_pending"
)

// Media codes: the peers' own, never sent by the server (PROTOCOL.md, "Media").
// All are informational (ClassInfo): the connection goes on.
const (
	// CodeShareForbidden: a client shared a stream while the frame config
	// says clients may not (clientsMayShare false). The client refuses it
	// itself; a host that gets a track from a client anyway ignores it and
	// sends the client an Error with this code.
	CodeShareForbidden Code = "share_forbidden"
	// CodeBadStreamOptions: a share's options (maxBitrate,
	// scaleResolutionDownBy) are out of their bounds; nothing is shared.
	CodeBadStreamOptions Code = "bad_stream_options"
	// CodeMediaDenied: the camera, microphone or screen was refused
	// (getUserMedia or getDisplayMedia: NotAllowedError).
	CodeMediaDenied Code = "media_denied"
	// CodeMediaUnavailable: no such device, or it cannot be read, or the
	// browser cannot capture at all (NotFoundError, NotReadableError,
	// OverconstrainedError, no mediaDevices).
	CodeMediaUnavailable Code = "media_unavailable"
)

// Message is one signaling message. Fields not used by a state are empty.
type Message struct {
	Type  string `json:"type"`
	State State  `json:"state"`

	Token      string    `json:"token,omitempty"`      // SessionJoin
	SessionID  SessionID `json:"sessionId,omitempty"`  // SessionReady
	PeerID     PeerID    `json:"peerId,omitempty"`     // SessionReady, PeerLeft
	HostPeerID PeerID    `json:"hostPeerId,omitempty"` // SessionReady, HostLeft, HostUnreachable, HostCheck
	Successor  PeerID    `json:"successor,omitempty"`  // PeerStates: the client the host names to host after it

	To   PeerID          `json:"to,omitempty"`   // routed: the target, set by the sender
	From PeerID          `json:"from,omitempty"` // routed: the sender, set by the server only
	Data json.RawMessage `json:"data,omitempty"` // routed: an SDP or ICE candidate object

	Config  json.RawMessage `json:"config,omitempty"`  // SessionReady to the joiner: the token's frame config
	Code    Code            `json:"code,omitempty"`    // Error
	Text    string          `json:"message,omitempty"` // Error: for people
	Seconds int             `json:"seconds,omitempty"` // ServerShutdown

	// ICEServers (SessionReady) are the STUN/TURN servers, RTCIceServer
	// objects (urls, username, credential), for the receiver's next
	// RTCPeerConnection: the server's, with fresh credentials, then the
	// frame config's ice_servers.
	ICEServers json.RawMessage `json:"iceServers,omitempty"`
}

func bad(code Code, format string, args ...any) error {
	return &CodeError{Code: code, Text: fmt.Sprintf(format, args...)}
}

// DecodeClient parses and validates a message sent by a peer to the server.
// It accepts only the states a peer may send, and only with the fields those
// states need. The caller bounds len(b) beforehand.
func DecodeClient(b []byte) (*Message, error) {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		return nil, bad(CodeBadMessage, "a message is one JSON object")
	}
	var from json.RawMessage // taken raw, so that "from":"" and "from":null count as set
	m, ok := decodeRouted(b) // never with from: it takes only type, state, to and data
	if !ok {
		in := new(struct {
			Message
			From json.RawMessage `json:"from"`
		})
		if err := json.Unmarshal(b, in); err != nil {
			return nil, bad(CodeBadMessage, "invalid JSON: %v", err)
		}
		m, from = &in.Message, in.From
	}
	if m.Type != Type {
		return nil, bad(CodeUnknownState, "type must be %q", Type)
	}
	if from != nil {
		return nil, bad(CodeBadMessage, "from is set by the server, not the sender")
	}
	switch m.State {
	case SessionJoin:
		if m.Token == "" {
			return nil, bad(CodeBadMessage, "SessionJoin needs a token")
		}
	case HostCheck:
		if m.Token == "" {
			return nil, bad(CodeBadMessage, "HostCheck needs a token")
		}
		if err := CheckID(string(m.HostPeerID)); err != nil {
			return nil, bad(CodeBadMessage, "hostPeerId: %v", err)
		}
	case SdpOffer, SdpAnswer, IceCandidate:
		if err := CheckID(string(m.To)); err != nil {
			return nil, bad(CodeBadMessage, "to: %v", err)
		}
		if len(m.Data) == 0 || m.Data[0] != '{' {
			return nil, bad(CodeBadMessage, "%s needs data, a JSON object", m.State)
		}
	case SessionLeave, HostAlive:
	case HostUnreachable:
		if err := CheckID(string(m.HostPeerID)); err != nil {
			return nil, bad(CodeBadMessage, "hostPeerId: %v", err)
		}
	case PeerLeft:
		if err := CheckID(string(m.PeerID)); err != nil {
			return nil, bad(CodeBadMessage, "peerId: %v", err)
		}
	case PeerStates:
		states, err := DecodePeerStates(m.Data)
		if err != nil {
			return nil, err
		}
		if m.Successor != "" && states[m.Successor] != "connected" {
			return nil, bad(CodeBadMessage, "successor: not a connected peer of the map")
		}
	default:
		return nil, bad(CodeUnknownState, "state %q is not one a peer sends", truncate(string(m.State)))
	}
	return m, nil
}

// CheckID reports whether s is a valid session or peer id: 1 to MaxIDLength
// bytes of UTF-8 with no control characters.
func CheckID(s string) error {
	if s == "" {
		return errors.New("empty id")
	}
	if len(s) > MaxIDLength {
		return fmt.Errorf("id longer than %d bytes", MaxIDLength)
	}
	if !utf8.ValidString(s) {
		return errors.New("id is not UTF-8")
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return errors.New("id has a control character")
		}
	}
	return nil
}

func truncate(s string) string {
	if len(s) > 32 {
		return s[:32] + "…"
	}
	return s
}

// AppendRouted appends the wire form of a routed message as the server
// forwards it: only the known fields, with the sender stamped. quotedFrom is
// the sender's id already JSON-quoted (see Quote); data must be valid JSON.
func AppendRouted(dst []byte, state State, quotedFrom []byte, to PeerID, data []byte) []byte {
	dst = append(dst, `{"type":"Connection","state":"`...)
	dst = append(dst, state...)
	dst = append(dst, `","from":`...)
	dst = append(dst, quotedFrom...)
	dst = append(dst, `,"to":`...)
	dst = appendQuoted(dst, string(to))
	dst = append(dst, `,"data":`...)
	dst = append(dst, data...)
	return append(dst, '}')
}

// Quote returns s as a JSON string literal.
func Quote(s string) []byte { return appendQuoted(nil, s) }

func appendQuoted(dst []byte, s string) []byte {
	// Ids are validated UTF-8 without control characters, but quote fully
	// anyway so that this never emits invalid JSON whatever it is given.
	b, err := json.Marshal(s)
	if err != nil { // unreachable for a string
		return append(dst, `""`...)
	}
	return append(dst, b...)
}

// Encode returns the wire form of m.
func Encode(m *Message) []byte {
	if m.Type == "" {
		m.Type = Type
	}
	b, err := json.Marshal(m)
	if err != nil { // only a RawMessage holding invalid JSON gets here
		return []byte(`{"type":"Connection","state":"Error","code":"bad_message","message":"unencodable message"}`)
	}
	return b
}

// ErrorMessage returns the wire form of an Error message.
func ErrorMessage(code Code, text string) []byte {
	return Encode(&Message{State: Error, Code: code, Text: text})
}
