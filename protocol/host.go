package protocol

import "time"

//go:generate go run ./internal/genjs -o ../client/constants.js

// The host behaviour both peers follow, the Go peer (package peer) and the
// browser client (whose copy, client/constants.js, is generated from these
// by `go generate ./protocol`). PROTOCOL.md, "Host behaviour", says the
// same for people.
const (
	// DefaultHeartbeatInterval and DefaultHeartbeatIdleTimeout are the
	// frame config's heartbeat defaults.
	DefaultHeartbeatInterval    = 1000 * time.Millisecond
	DefaultHeartbeatIdleTimeout = 4000 * time.Millisecond

	// DefaultMaxMessageSize is the largest Data payload by default (the
	// frame config's maxMessageSize); MaxMaxMessageSize bounds that setting.
	DefaultMaxMessageSize = 16 << 20
	MaxMaxMessageSize     = 64 << 20

	// ChunkSize: a peer message longer than this goes over the DataChannel
	// in binary chunks of at most this many bytes (every DataChannel
	// implementation takes those whole).
	ChunkSize = 16 << 10

	// OfferTimeout: a client that got no offer this long after joining
	// takes its host as lost and joins again.
	OfferTimeout = 10 * time.Second
	// NegotiationTimeout: from the offer to the DataChannel opening; after
	// it the host marks the client failed and a client takes its host as
	// lost (CodeICEFailed) and joins again. The default of the frame
	// config's connect_timeout_mls.
	NegotiationTimeout = 15 * time.Second
	// ForgetAfter: the host forgets a client whose connection ended and
	// that did not come back within this: it leaves the state map and the
	// host sends PeerLeft, which frees its place in the session.
	ForgetAfter = 30 * time.Second
	// HealTimeout: a link whose path broke while its DataChannel was open
	// heals (same connection, no server) for at most this long before it
	// counts as lost. The default of the frame config's heal_timeout_mls.
	HealTimeout = 20 * time.Second
	// HealMaxHeld: the messages a healing link holds at most, to send once
	// healed.
	HealMaxHeld = 4096

	// SuccessorWindow: a host names a successor (PeerStates "successor":
	// the longest-connected of its connected clients); when the session is
	// reset (the host is gone), the successor hosts it if it joins within
	// this window. Until then every other join is refused
	// (successor_pending, a retry), except the old host's own (its
	// signaling connection came back: it keeps its room). The window
	// covers a client noticing its host gone (heartbeat idle timeout, 4 s
	// by default) and its first backoffs.
	SuccessorWindow = 10 * time.Second

	// BackoffBase and BackoffMax shape the wait before joining again: retry
	// n waits min(BackoffBase·2ⁿ, BackoffMax) times a random factor in
	// [0.5, 1.5) (see Backoff).
	BackoffBase = 200 * time.Millisecond
	BackoffMax  = 8 * time.Second

	// SendHighWater and SendLowWater: a sender stops handing messages to a
	// DataChannel while more than SendHighWater bytes are queued in it, and
	// resumes when the queue falls to SendLowWater.
	SendHighWater = 1 << 20
	SendLowWater  = 256 << 10

	// RelayMaxQueued: the host drops a client (state failed, reason
	// slow_reader, counted) whose queue of relayed bytes passes
	// max(RelayMaxQueued, 2·maxMessageSize): one slow client never stalls
	// the others nor makes the host buffer without bound.
	RelayMaxQueued = 32 << 20
	// RelayMaxHeld: the host holds Data messages for a client still
	// negotiating (it gets them, in order, when its channel opens), up to
	// this many; one more drops it as slow.
	RelayMaxHeld = 4096
)

// Backoff is the wait before join retry n (0, 1, ...), given r uniform in
// [0, 1): min(BackoffBase·2ⁿ, BackoffMax) · (0.5 + r). Peers that lost their
// host together come back one by one; the first one back hosts.
func Backoff(n int, r float64) time.Duration {
	base := BackoffMax
	if n >= 0 && n < 16 {
		base = min(BackoffBase<<n, BackoffMax)
	}
	return time.Duration(float64(base) * (0.5 + r))
}

// DataChannelLabel is the label of the DataChannel the host opens for each
// client.
const DataChannelLabel = "p2pstreams"

// The peer message types over the DataChannel (PROTOCOL.md, "Peer messages").
const (
	MsgData      = "Data"                  // a message for everyone; relayed by the host with its senderId
	MsgStates    = "Data.Connection.State" // host → clients: every peer's state
	MsgHeartbeat = "Heartbeat"             // both ways, every heartbeat interval
	MsgError     = "Error"                 // host → client: a message of the client's was refused (code)
	MsgHostState = "Data.Host.State"       // host → clients: the app's state snapshot (opt-in hand-off)

	// Renegotiation over the channel, peer to peer, never given to the app
	// nor relayed (PROTOCOL.md, "Renegotiation over the DataChannel").
	MsgDescription = "Negotiation.Description" // both ways: an RTCSessionDescriptionInit (offer or answer)
	MsgCandidate   = "Negotiation.Candidate"   // both ways: an RTCIceCandidateInit
	MsgFeatures    = "Negotiation.Features"    // both ways, once on open: {"iceRestart": bool}; browsers send it, Go peers do not
	MsgStreamFrom  = "Negotiation.StreamFrom"  // host → client, before it forwards a stream: {"streamId", "peerId"} (who shares it)
)

// HostStateEvery: a host whose app gives a state snapshot sends a fresh
// one to its clients at most this often while Data messages flow, and to
// each client when its channel opens.
const HostStateEvery = time.Second

// The connection states, of a peer and in Data.Connection.State, in the
// order a connection usually goes through them.
var ConnStates = []string{"new", "negotiating", "connecting", "connected", "disconnected", "closed", "failed"}
