package peer

import (
	"encoding/json"
	"strconv"
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
// the client rolls back, or forgets: see Glare below). Local ICE
// candidates go the same way once the channel is open.
//
// The Go peer never takes part in an ICE restart over the channel: pion
// drops its candidate pairs the moment it makes or takes a restart offer,
// so its offer or answer could not leave (tried: answering a browser's
// restart worked only when the answer won a race with pion's restart). It
// sends no Negotiation.Features, so browsers do not restart toward it, and
// lets ICE recover from "disconnected" on its own while the link heals
// (heal.go). It does start and answer other renegotiations (tracks).
//
// Glare: pion v4.2.20 cannot roll back a local offer (have-local-offer ->
// rollback fails), and a browser that rolls back instead refuses pion's
// next offer ("RTP extension ID reassignment not supported"). So the Go
// peer is polite without rolling back: on the client's side it sends its
// offer without applying it (l.offer) and applies it only when the answer
// comes, so it stays stable meanwhile. When the host's offer crosses it,
// the host (impolite) ignores ours, and we simply forget ours and answer
// the host's: nothing to roll back. pion asks for an offer again once
// stable, and the new one carries our tracks. pion gives a transceiver its
// mid when it creates the offer and keeps it; the mids we give our
// transceivers first (newMid) are not numbers, so they never match the
// remote's in its crossing offer.

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
	if !l.open || l.pc.SignalingState() != webrtc.SignalingStateStable || l.offer != nil {
		return // pion asks again once stable
	}
	l.keepSetup()
	if err := l.ownMids(); err != nil {
		p.log.Warn("p2pstreams: renegotiation offer", "peer", l.remote, "err", err)
		return
	}
	offer, err := l.pc.CreateOffer(nil)
	if err == nil && !l.polite {
		err = l.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Warn("p2pstreams: renegotiation offer", "peer", l.remote, "err", err)
		return
	}
	if l.polite {
		l.offer = &offer // applied when the answer comes
		p.sendNegotiation(l, protocol.MsgDescription, offer)
		return
	}
	p.sendNegotiation(l, protocol.MsgDescription, l.pc.LocalDescription())
}

// ownMids gives l's transceivers that have no mid yet one of ours (those
// sendTrack did not make: the tests').
func (l *link) ownMids() error {
	for _, t := range l.pc.GetTransceivers() {
		if t.Mid() == "" {
			if err := t.SetMid(l.newMid()); err != nil {
				return err
			}
		}
	}
	return nil
}

// newMid is a mid for a transceiver of ours that is not used on l: "h2",
// "h3", ... on the host's side, "c2", ... on the client's. Not numbers,
// which browsers and pion's offers use, so that a crossing offer never
// names a transceiver of ours.
func (l *link) newMid() string {
	prefix := "h"
	if l.polite {
		prefix = "c"
	}
	used := map[string]bool{}
	for _, t := range l.pc.GetTransceivers() {
		used[t.Mid()] = true
	}
	for n := len(used); ; n++ {
		if mid := prefix + strconv.Itoa(n); !used[mid] {
			return mid
		}
	}
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
// here: a crossing offer is one that finds us in have-local-offer (the
// host) or with an offer sent and not applied (the client, l.offer).
func (p *Peer) remoteDescription(l *link, d webrtc.SessionDescription) error {
	l.keepSetup()
	collision := d.Type == webrtc.SDPTypeOffer && (l.pc.SignalingState() != webrtc.SignalingStateStable || l.offer != nil)
	p.log.Debug("p2pstreams: description over the channel", "peer", l.remote, "type", d.Type, "collision", collision)
	l.ignoreOffer = collision && !l.polite
	if collision {
		p.glares.Add(1)
	}
	if l.ignoreOffer {
		return nil // the polite side will answer ours
	}
	if collision {
		l.offer = nil // polite: ours gives way; it was never applied (see above)
	}
	if d.Type == webrtc.SDPTypeAnswer && l.offer != nil {
		offer := *l.offer
		l.offer = nil
		if err := l.pc.SetLocalDescription(offer); err != nil {
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
