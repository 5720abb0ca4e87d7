package protocol

// The peer messages that renegotiate a live connection over its DataChannel
// (PROTOCOL.md, "Renegotiation over the DataChannel"). They carry the same
// data as SdpOffer/SdpAnswer and IceCandidate, peer to peer, never through
// the server, and are never given to the app nor relayed.
const (
	// PeerDescription: "data" is an RTCSessionDescriptionInit (offer or answer).
	PeerDescription = "Negotiation.Description"
	// PeerCandidate: "data" is an RTCIceCandidateInit.
	PeerCandidate = "Negotiation.Candidate"
)
