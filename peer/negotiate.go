package peer

import (
	"encoding/json"
	"strings"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Renegotiation over the DataChannel (loop goroutine only). The first
// offer and answer go through the signaling server; once a link's channel
// is open, every later change to the connection (an ICE restart, tracks)
// is negotiated over the channel itself with the perfect-negotiation
// pattern: the client is polite (it gives up its own offer when offers
// cross), the host impolite (it ignores the client's crossing offer, which
// the client rolls back). Local ICE candidates go the same way once the
// channel is open.
//
// The Go peer never takes part in an ICE restart over the channel: pion
// drops its candidate pairs the moment it makes or takes a restart offer,
// so its offer or answer could not leave (tried: answering a browser's
// restart worked only when the answer won a race with pion's restart). It
// sends no Negotiation.Features, so browsers do not restart toward it, and
// lets ICE recover from "disconnected" on its own while the link heals
// (heal.go). It does start and answer other renegotiations (tracks). As
// the polite side it cannot resolve glare yet: pion v4.2.20 refuses to
// roll back a local offer (have-local-offer -> rollback), so it logs it;
// media.go's clientTracks keeps a client joining a Go host out of it. (A
// browser host that shares a stream offers up to a second after its
// state map, so a Go client joining it with a track can still cross it.)

// localCandidate sends one of l's local ICE candidates to the remote peer:
// over the channel once it is open, through the server before.
func (p *Peer) localCandidate(l *link, c *webrtc.ICECandidateInit) {
	if l.open {
		p.sendNegotiation(l, protocol.MsgCandidate, c)
		return
	}
	data, _ := json.Marshal(c)
	p.signal(&protocol.Message{State: protocol.IceCandidate, To: l.remote, Data: data})
}

// negotiationNeeded: pion says l needs an offer. Before the channel is
// open the host's first offer covers it.
func (p *Peer) negotiationNeeded(l *link) {
	if !l.open || l.pc.SignalingState() != webrtc.SignalingStateStable {
		return // pion asks again once stable
	}
	l.keepSetup()
	offer, err := l.pc.CreateOffer(nil)
	if err == nil {
		err = l.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Warn("p2pstreams: renegotiation offer", "peer", l.remote, "err", err)
		return
	}
	p.sendNegotiation(l, protocol.MsgDescription, l.pc.LocalDescription())
}

// negotiationMessage handles w if it is a renegotiation message, and
// reports whether it was one.
func (p *Peer) negotiationMessage(l *link, w wire) bool {
	switch w.Type {
	case protocol.MsgDescription:
		var d webrtc.SessionDescription
		if err := json.Unmarshal(w.Data, &d); err != nil {
			p.log.Warn("p2pstreams: bad description over the channel", "peer", l.remote, "err", err)
			return true
		}
		if err := p.remoteDescription(l, d); err != nil {
			p.log.Warn("p2pstreams: renegotiation", "peer", l.remote, "type", d.Type, "err", err)
		}
		return true
	case protocol.MsgCandidate:
		var c webrtc.ICECandidateInit
		if err := json.Unmarshal(w.Data, &c); err != nil {
			p.log.Warn("p2pstreams: bad candidate over the channel", "peer", l.remote, "err", err)
			return true
		}
		if err := l.addCandidate(c); err != nil && !l.ignoreOffer {
			p.log.Debug("p2pstreams: add ICE candidate", "peer", l.remote, "err", err)
		}
		return true
	case protocol.MsgStreamFrom:
		p.streamFromMessage(l, w.Data)
		return true
	}
	return false
}

// remoteDescription is perfect negotiation's receiving side. The loop
// makes offers synchronously, so "making an offer" is never in progress
// here: a crossing offer is one that finds us in have-local-offer.
func (p *Peer) remoteDescription(l *link, d webrtc.SessionDescription) error {
	l.keepSetup()
	collision := d.Type == webrtc.SDPTypeOffer && l.pc.SignalingState() != webrtc.SignalingStateStable
	p.log.Debug("p2pstreams: description over the channel", "peer", l.remote, "type", d.Type, "collision", collision)
	l.ignoreOffer = collision && !l.polite
	if collision {
		p.glares.Add(1)
	}
	if l.ignoreOffer {
		return nil // the polite side will answer ours
	}
	if collision { // polite: our offer gives way (pion has no implicit rollback,
		// and wants an SDP it can parse with the rollback: our own offer's)
		rb := webrtc.SessionDescription{Type: webrtc.SDPTypeRollback, SDP: l.pc.LocalDescription().SDP}
		if err := l.pc.SetLocalDescription(rb); err != nil {
			return err
		}
	}
	if err := l.setRemote(d); err != nil {
		return err
	}
	p.tracksChanged(l)
	if d.Type != webrtc.SDPTypeOffer {
		return nil
	}
	answer, err := l.pc.CreateAnswer(nil)
	if err == nil {
		err = l.pc.SetLocalDescription(answer)
	}
	if err != nil {
		return err
	}
	p.sendNegotiation(l, protocol.MsgDescription, l.sameSetup(*l.pc.LocalDescription()))
	return nil
}

// keepSetup records l's DTLS role (a=setup in the first exchange's answer)
// before a renegotiation changes the descriptions.
func (l *link) keepSetup() {
	if l.setup != "" {
		return
	}
	local, remote := l.pc.CurrentLocalDescription(), l.pc.CurrentRemoteDescription()
	var active bool // this side is the DTLS client
	switch {
	case local != nil && local.Type == webrtc.SDPTypeAnswer:
		active = strings.Contains(local.SDP, "a=setup:active")
	case remote != nil && remote.Type == webrtc.SDPTypeAnswer:
		active = !strings.Contains(remote.SDP, "a=setup:active")
	default:
		return
	}
	l.setup = "a=setup:passive"
	if active {
		l.setup = "a=setup:active"
	}
}

// sameSetup: pion answers a renegotiation offer (a=setup:actpass) as DTLS
// client whatever its role, and Chromium refuses an answer that would
// change the role ("Failed to set SSL role"): the answer sent says the
// role l has. (The DTLS transport is not renegotiated; only the text
// differs from what pion keeps.)
func (l *link) sameSetup(d webrtc.SessionDescription) webrtc.SessionDescription {
	if l.setup == "" {
		return d
	}
	r := strings.NewReplacer("a=setup:active", l.setup, "a=setup:passive", l.setup)
	d.SDP = r.Replace(d.SDP)
	return d
}

// sendNegotiation sends a renegotiation message over l's channel. It goes
// even while the link heals: SCTP delivers it when a path comes back.
func (p *Peer) sendNegotiation(l *link, typ string, v any) {
	data, err := json.Marshal(v)
	if err != nil {
		return
	}
	b, _ := json.Marshal(wire{Type: typ, Data: data})
	p.sendText(l, string(b))
}
