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
	// PeerFeatures: "data" is {"iceRestart": bool}, sent once by each
	// browser peer when the channel opens: whether it can take an ICE
	// restart over the channel. Go peers (pion drops its candidate pairs
	// on a restart) send none, which means no.
	PeerFeatures = "Negotiation.Features"
)
