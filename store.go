package p2pstreams

import (
	"context"
	"errors"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// SessionID names a session (a room).
type SessionID = protocol.SessionID

// PeerID names a peer within a session.
type PeerID = protocol.PeerID

// Store errors. Every Store returns these (possibly wrapped) so the server can
// answer with the right protocol code.
var (
	// ErrSessionFull: the session has JoinOptions.MaxPeers members already.
	ErrSessionFull = errors.New("p2pstreams: session full")
	// ErrPeerConnected: the peer id is connected to the session already.
	ErrPeerConnected = errors.New("p2pstreams: peer already connected")
	// ErrNotMember: the peer is not a connected member (any more): the session
	// was reset, or the peer's presence lease ran out.
	ErrNotMember = errors.New("p2pstreams: not a member")
	// ErrSuccessorPending: the session was reset and waits for the
	// successor its host named (see Store.SetSuccessor).
	ErrSuccessorPending = errors.New("p2pstreams: the session waits for its named successor")
)

// Store keeps session membership and elects hosts. It is shared by every
// server node of a deployment, so each method must be atomic across them: two
// peers joining an empty session at once never both become host.
//
// A member is a peer that joined the session and has not left it for good.
// A member is connected while its node holds its presence lease, which the
// node renews with Refresh; a dead node's peers, host included, lapse when
// their leases run out. A session ends when its host leaves (it is reset:
// every member is removed) or when the last member's expiry passes.
//
// A host may name a successor (SetSuccessor). A reset of a session with a
// successor leaves it waiting for that peer for the window given: only the
// successor (which becomes host) or the old host (which hosts again) may
// join it then; the others get ErrSuccessorPending.
//
// The server calls the Store only from a connection's own goroutine, and
// every call takes a context that bounds it.
type Store interface {
	// Join makes p a connected member of s and returns the session's host,
	// which is p itself when s had no connected host. It fails with
	// ErrPeerConnected when p is connected already, with ErrSessionFull
	// when p is not a member and s has o.MaxPeers members, and with
	// ErrSuccessorPending when s waits for a successor other than p.
	Join(ctx context.Context, s SessionID, p PeerID, o JoinOptions) (host PeerID, err error)

	// Refresh renews p's presence lease for another lease. It fails with
	// ErrNotMember when p is no longer a connected member: its session was
	// reset or expired, or its lease ran out.
	Refresh(ctx context.Context, s SessionID, p PeerID, lease time.Duration) error

	// Leave ends p's presence in s; with forget, p also stops being a
	// member. When p was the host, the session is reset and Leave returns
	// the other members that were connected, so that they can be told.
	Leave(ctx context.Context, s SessionID, p PeerID, forget bool) (Departure, error)

	// SetSuccessor records, with s, that successor hosts s after host:
	// when s is reset within the session's life, it waits up to window
	// for successor to join. successor "" names none; a successor that is
	// not a member of s, or is host, is not recorded (none). It fails with
	// ErrNotMember when host is not s's connected host.
	SetSuccessor(ctx context.Context, s SessionID, host, successor PeerID, window time.Duration) error
}

// JoinOptions are the limits of one Join.
type JoinOptions struct {
	// MaxPeers bounds the members of the session, host included; 0 means no bound.
	MaxPeers int
	// Lease is how long the peer's presence lasts without a Refresh.
	Lease time.Duration
	// Expires is when the peer's membership ends; the session lives at
	// least until then.
	Expires time.Time
}

// Departure is what a Leave did.
type Departure struct {
	// WasHost is true when the leaving peer was the host and the session was reset.
	WasHost bool
	// Connected lists, when WasHost, the other members that were connected.
	Connected []PeerID
}

// BatchRefresher is an optional interface of a Store: it renews many
// presence leases in one round trip. A node's lease refresher renews every
// connected peer every Lease/3; with one call per peer, a round over 100k
// peers of a remote store takes seconds. The server uses RefreshBatch when
// its Store has it, Refresh otherwise.
type BatchRefresher interface {
	// RefreshBatch renews the lease of every member for another lease, as
	// Refresh would each, and returns one error per member, in order: nil,
	// ErrNotMember, or what failed (the same error for every member when
	// the whole batch failed).
	RefreshBatch(ctx context.Context, members []Member, lease time.Duration) []error
}

// Member names a peer of a session.
type Member struct {
	Session SessionID
	Peer    PeerID
}
