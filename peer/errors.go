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
	// ErrMessagesLost (to OnError): messages that a client's Send queued
	// while its link was healing were never sent, because the link was
	// lost instead (the client then rejoins through the server).
	ErrMessagesLost = errors.New("peer: messages lost")
	// ErrQueueFull: Send on a client whose link is healing and already
	// holds 4096 messages; this one was not sent.
	ErrQueueFull = errors.New("peer: send queue full")
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
