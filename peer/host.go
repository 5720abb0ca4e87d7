package peer

import (
	"encoding/json"
	"maps"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// The host's side (loop goroutine only). The host makes one link per
// client when the server names it in SessionReady, offers, relays every
// Data message to everyone in one order (its loop's), and keeps the map of
// every peer's state, itself included as connected, sending the whole map
// to every open client on each change.

// hostNewPeer starts negotiating with a client that is ready for an offer.
// A client that rejoins replaces its old link.
func (p *Peer) hostNewPeer(id protocol.PeerID) {
	if old := p.links[id]; old != nil {
		delete(p.links, id)
		p.closeLink(old)
	}
	l, err := p.newLink(id, true)
	if err != nil {
		p.log.Warn("p2pstreams: new peer connection", "peer", id, "err", err)
		p.setPeerState(id, StateFailed)
		return
	}
	p.links[id] = l
	offer, err := l.pc.CreateOffer(nil)
	if err == nil {
		err = l.pc.SetLocalDescription(offer)
	}
	if err != nil {
		p.log.Warn("p2pstreams: offer", "peer", id, "err", err)
		p.hostDrop(id, StateFailed)
		return
	}
	data, _ := json.Marshal(offer)
	p.signal(&protocol.Message{State: protocol.SdpOffer, To: id, Data: data})
	p.setPeerState(id, StateNegotiating)
}

func (p *Peer) hostAnswer(from protocol.PeerID, data json.RawMessage) {
	l := p.links[from]
	if l == nil || l.remoteSet {
		return
	}
	var answer webrtc.SessionDescription
	err := json.Unmarshal(data, &answer)
	if err == nil {
		err = l.setRemote(answer)
	}
	if err != nil {
		p.log.Warn("p2pstreams: answer", "peer", from, "err", err)
		p.hostDrop(from, StateFailed)
	}
}

func (p *Peer) hostLinkEvent(l *link, ev event) {
	id := l.remote
	switch ev.kind {
	case evCandidate:
		data, _ := json.Marshal(ev.cand)
		p.signal(&protocol.Message{State: protocol.IceCandidate, To: id, Data: data})
	case evPCState:
		switch ev.pcState {
		case webrtc.PeerConnectionStateConnecting:
			if p.states[id] == StateNegotiating {
				p.setPeerState(id, StateConnecting)
			}
		case webrtc.PeerConnectionStateFailed:
			p.hostDrop(id, StateFailed)
		case webrtc.PeerConnectionStateClosed:
			p.hostDrop(id, StateClosed)
			// "disconnected" may heal by itself: the heartbeat decides.
		}
	case evOpen:
		if !l.open {
			p.hostOpen(l)
		}
	case evClose:
		p.hostDrop(id, StateDisconnected)
	case evData:
		if !l.open {
			p.hostOpen(l)
		}
		if ev.wire.Type == typeData {
			p.relay(id, ev.wire.Data)
		}
	}
}

func (p *Peer) hostOpen(l *link) {
	l.open = true
	l.seen()
	p.setPeerState(l.remote, StateConnected)
}

// hostDrop ends the link to a client and records its last state, which it
// keeps in the map. (Like the browser host, it does not send PeerLeft: a
// client that closed its WebSocket stays a member until it leaves or its
// token expires.)
func (p *Peer) hostDrop(id protocol.PeerID, s State) {
	l := p.links[id]
	if l == nil {
		return
	}
	delete(p.links, id)
	p.closeLink(l)
	p.setPeerState(id, s)
}

// relay delivers a Data message from `from` to the host itself and to every
// open client, the sender included.
func (p *Peer) relay(from protocol.PeerID, data json.RawMessage) {
	// A client whose channel pion has opened already gets this message,
	// even if the loop has not seen the open event yet: the client may be
	// connected (its side opens on our OPEN message) and expects every
	// message sent after that.
	for _, l := range p.links {
		if !l.open && l.dc.ReadyState() == webrtc.DataChannelStateOpen {
			p.hostOpen(l)
		}
	}
	p.emitMessage(from, data)
	p.toClients(encodeRelay(from, data))
}

// toClients sends s to every open client, dropping any whose send queue
// passed relayMaxBuffered: the relay never waits for one slow client.
func (p *Peer) toClients(s string) {
	var slow []protocol.PeerID
	for id, l := range p.links {
		if !l.open {
			continue
		}
		p.sendText(l, s)
		if l.dc.BufferedAmount() > relayMaxBuffered {
			slow = append(slow, id)
		}
	}
	for _, id := range slow {
		p.log.Warn("p2pstreams: client reads too slowly, dropping it", "peer", id)
		p.hostDrop(id, StateFailed)
	}
}

// setPeerState changes one entry of the host's map and sends the map.
func (p *Peer) setPeerState(id protocol.PeerID, s State) {
	if old, ok := p.states[id]; ok && old == s {
		return
	}
	p.states[id] = s
	p.toClients(encodeStates(p.states))
	p.setPeers(maps.Clone(p.states))
}
