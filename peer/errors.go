package peer

import "errors"

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
	// as the last failure when its context ends. A *protocol.CodeError in the
	// chain says how the server closed the connection, when it said.
	ErrSignalingLost = errors.New("peer: signaling connection lost")
	// ErrICEFailed: a client's link to its host did not connect within the
	// negotiation timeout (the token config's connect_timeout_mls, 15 s by
	// default), or ICE failed. It comes with ErrDisconnected in the chain
	// (so NoFailover ends the Peer as for any lost host); otherwise the
	// Peer tries again with backoff, and Join reports it as the last
	// failure. Its text carries the browser client's code, "ice_failed".
	ErrICEFailed = errors.New("peer: ice_failed: the link to the host did not connect")
	// ErrMessagesLost (to OnError): messages that a client's Send queued
	// while its link was healing were never sent, because the link was
	// lost instead (the client then rejoins through the server).
	ErrMessagesLost = errors.New("peer: messages lost")
	// ErrQueueFull: Send on a client whose link is healing and already
	// holds 4096 messages; this one was not sent.
	ErrQueueFull = errors.New("peer: send queue full")
)

// A refusal by the server (an Error message, or a close with a code as its
// reason) is a *protocol.CodeError: Join returns one for a refused join (bad
// or expired token, full session, ...). Check it with protocol.CodeOf, errors.As
// or errors.Is(err, &protocol.CodeError{Code: c}).
