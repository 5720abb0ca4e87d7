package protocol

import "errors"

// Named channel codes (PROTOCOL.md, "Named channels"): peers' own, never
// sent by the server.
const (
	// CodeBadChannel: a channel name that is reserved or malformed, or an
	// invalid option (both lossy options set, out of range); refused.
	CodeBadChannel Code = "bad_channel"
	// CodeUnknownChannel: a message came on a DataChannel the receiver did
	// not open nor declare; it was not delivered nor relayed.
	CodeUnknownChannel Code = "unknown_channel"
)

// Class sorts the error codes by what a peer does after one, the same in
// the Go peer and the browser client (which gets its lists generated from
// Code.Class, see client/constants.js).
type Class string

const (
	// ClassFatal: joining again with the same token cannot succeed; the peer
	// ends (state failed).
	ClassFatal Class = "fatal"
	// ClassRetry: a refused join may pass a little later; the peer joins
	// again after the backoff.
	ClassRetry Class = "retry"
	// ClassInfo: reported (p2pError, a log line), nothing else changes.
	ClassInfo Class = "info"
)

// Class returns what a peer does after an Error with code c. Codes not
// listed here are informational: a new code is ClassInfo unless added
// (the media codes, CodeShareForbidden and the others, are: a refused share
// or capture leaves the connection as it was).
func (c Code) Class() Class {
	switch c {
	case CodeBadToken, CodeTokenExpired, CodeSessionExpired, CodeSessionFull, CodeOriginForbidden, CodePeerRemoved, CodeSessionClosed:
		return ClassFatal
	case CodePeerConnected, CodeUnavailable, CodeRateLimited, CodeJoinTimeout, CodeTooManyConnections, CodeSuccessorPending:
		return ClassRetry
	}
	return ClassInfo
}

// Fatal reports whether c is ClassFatal.
func (c Code) Fatal() bool { return c.Class() == ClassFatal }

// Retry reports whether c is ClassRetry.
func (c Code) Retry() bool { return c.Class() == ClassRetry }

// CodeError is the one error type that carries a protocol code: an input
// the decoder refused, an Error message from the server, a WebSocket close
// with a code as its reason (Close is then its status), or a refusal by a
// peer (a message over the maximum size, ...). Compare with errors.As, or
// errors.Is(err, &CodeError{Code: c}), or CodeOf.
type CodeError struct {
	Code  Code
	Text  string // for people; may be empty
	Close int    // the WebSocket close status when the connection was closed for it; else 0
}

func (e *CodeError) Error() string {
	if e.Text == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Text
}

// Is makes errors.Is(err, &CodeError{Code: c}) match any CodeError with
// code c (and, when the target has a Text, that text).
func (e *CodeError) Is(target error) bool {
	t, ok := target.(*CodeError)
	return ok && t.Code == e.Code && (t.Text == "" || t.Text == e.Text)
}

// CodeOf returns the protocol code carried by err, or "" if it carries none.
func CodeOf(err error) Code {
	var ce *CodeError
	if errors.As(err, &ce) {
		return ce.Code
	}
	return ""
}
