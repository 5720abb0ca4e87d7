package peer

import (
	"errors"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// The sentinel errors. Compare with errors.Is.
var (
	// ErrClosed: the Peer was closed by Close.
	ErrClosed = errors.New("peer: closed")
	// ErrNotConnected: Send on a client with no open DataChannel to the host
	// (still negotiating, or reconnecting after failover).
	ErrNotConnected = errors.New("peer: not connected to the host")
	// ErrHostLeft: the server said the host left (HostLeft) and failover is off.
	ErrHostLeft = errors.New("peer: the host left the session")
	// ErrDisconnected: the link to the host was lost (closed DataChannel,
	// failed ICE, heartbeat silence) and failover is off.
	ErrDisconnected = errors.New("peer: disconnected from the host")
	// ErrSignalingLost: the signaling connection failed while joining. A
	// Peer retries it (a host keeps its clients meanwhile); Join reports it
	// as the last failure when its context ends. A *CloseError in the chain
	// says how the server closed the connection.
	ErrSignalingLost = errors.New("peer: signaling connection lost")
	// ErrICEFailed: a client's link to its host did not connect within the
	// negotiation timeout (the token config's connect_timeout_mls, 15 s by
	// default), or ICE failed. It comes with ErrDisconnected in the chain
	// (so NoFailover ends the Peer as for any lost host); otherwise the
	// Peer tries again with backoff, and Join reports it as the last
	// failure. Its text carries the browser client's code, "ice_failed".
	ErrICEFailed = errors.New("peer: " + string(protocol.CodeICEFailed) + ": the link to the host did not connect")
)

// ServerError is an Error message from the signaling server (PROTOCOL.md,
// "Errors"). Join returns one for a refused join (bad or expired token, full
// session, ...). Check it with errors.As, or with protocol.CodeOf-style code
// comparisons on its Code field.
type ServerError struct {
	Code    protocol.Code
	Message string
}

func (e *ServerError) Error() string {
	return "peer: server error " + string(e.Code) + ": " + e.Message
}

// Is makes errors.Is(err, &ServerError{Code: c}) match any ServerError with
// code c.
func (e *ServerError) Is(target error) bool {
	t, ok := target.(*ServerError)
	return ok && t.Code == e.Code && (t.Message == "" || t.Message == e.Message)
}

// CodeOf returns the server error code carried by err, or "".
func CodeOf(err error) protocol.Code {
	var se *ServerError
	if errors.As(err, &se) {
		return se.Code
	}
	return ""
}

// fatal reports whether a join refused with code can never succeed by
// trying again with the same token.
func fatal(code protocol.Code) bool {
	switch code { // the browser client's FATAL set
	case protocol.CodeBadToken, protocol.CodeTokenExpired, protocol.CodeSessionExpired,
		protocol.CodeSessionFull, protocol.CodeOriginForbidden:
		return true
	}
	return false
}
