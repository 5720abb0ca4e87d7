package peer

import (
	"encoding/json"
	"maps"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// The host's side (loop goroutine only). The host makes one link per
// client when the server names it in SessionReady, offers, relays every
// Data message to everyone in one order (its loop's), and keeps the map of
// every peer's state, itself included as connected, sending the whole map
// to every open client on each change.

// hostRole is what only the host uses, owned by the loop goroutine. A new
// one starts each round (newHostRole); a host keeps it through its redials,
// and empties it when it rejoins as a client (joinedAs).
type hostRole struct {
	links       map[protocol.PeerID]*link     // one per client
	states      map[protocol.PeerID]State     // the map it sends; nil until it hosts
	gone        map[protocol.PeerID]time.Time // clients whose link ended, since when
	reportDue   bool                          // the map changed since the last PeerStates; tick sends it
	redialTimer *time.Timer                   // when to reopen its signaling connection
	redials     int
}

func newHostRole() hostRole {
	return hostRole{links: make(map[protocol.PeerID]*link)}
}

// hostNewPeer starts negotiating with a client that is ready for an offer.
// A client that rejoins replaces its old link.
func (p *Peer) hostNewPeer(id protocol.PeerID, iceServers []webrtc.ICEServer) {
	delete(p.host.gone, id)
	if old := p.host.links[id]; old != nil {
		delete(p.host.links, id)
		p.closeLink(old)
		p.publishFanout()
	}
	l, err := p.newLink(id, true, iceServers)
	if err != nil {
		p.log.Warn("p2pstreams: new peer connection", "peer", id, "err", err)
		p.setPeerState(id, StateFailed)
		return
	}
	l.baseSeq = p.handoff.seq // it gets every message relayed from now on (held until open)
	p.host.links[id] = l
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
	l := p.host.links[from]
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
		return
	}
	if p.host.states[from] == StateNegotiating && !l.open { // both descriptions set, as the browser says
		p.setPeerState(from, StateConnecting)
	}
}

func (p *Peer) hostLinkEvent(l *link, ev event) {
	id := l.remote
	switch ev.kind {
	case evCandidate:
		p.localCandidate(l, ev.cand)
	case evNegotiate:
		p.negotiationNeeded(l)
	case evPCState:
		switch ev.pcState {
		case webrtc.PeerConnectionStateConnecting:
			if p.host.states[id] == StateNegotiating {
				p.setPeerState(id, StateConnecting)
			}
		case webrtc.PeerConnectionStateDisconnected:
			if l.open {
				p.startHeal(l, "connection disconnected")
			}
		case webrtc.PeerConnectionStateConnected:
			p.checkHealed(l)
		case webrtc.PeerConnectionStateFailed:
			p.hostDrop(id, StateFailed)
		case webrtc.PeerConnectionStateClosed:
			p.hostDrop(id, StateClosed)
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
		p.checkHealed(l)
		if p.negotiationMessage(l, ev.wire) || p.channelMessage(l, ev.wire) {
			return
		}
		if ev.wire.Type != typeData {
			return
		}
		if n := len(ev.wire.Data) + len(ev.wire.Binary); ev.wire.tooLarge || n > p.set.maxMessage {
			// Delivered or reported: the sender hears why it was not relayed.
			p.sendText(l, encodeError(protocol.CodeTooLarge, "the host refused a message over its maximum size"))
			return
		}
		p.relay(id, ev.wire.Data, ev.wire.Binary)
	}
}

// hostOpen marks a client's channel open: the messages relayed while it
// negotiated go first, in order, then the map with it connected.
func (p *Peer) hostOpen(l *link) {
	l.open, l.openedAt = true, time.Now()
	p.publishFanout()
	l.seen()
	if !p.flushOutbox(l) {
		p.hostDrop(l.remote, StateFailed)
		return
	}
	p.sendTracks(l) // negotiated over the channel, now open
	p.setPeerState(l.remote, StateConnected)
	if p.host.links[l.remote] == l {
		p.askHostState(l) // the newcomer gets the room's state
	}
}

// flushOutbox sends what the host held for a client, in order; false if
// its channel refused it.
func (p *Peer) flushOutbox(l *link) bool {
	out := l.outbox
	l.outbox, l.held, l.heldBytes = nil, 0, 0
	return p.sendPieces(l, out)
}

// hostDrop ends the link to a client and records its last state, which it
// keeps in the map until the client comes back (a new SessionReady) or
// forgetAfter passes (see forgetGone).
func (p *Peer) hostDrop(id protocol.PeerID, s State) {
	l := p.host.links[id]
	if l == nil {
		return
	}
	delete(p.host.links, id)
	p.closeLink(l)
	p.publishFanout()
	p.host.gone[id] = time.Now()
	p.setPeerState(id, s)
}

// forgetAfter is protocol.ForgetAfter; tests shorten it.
var forgetAfter = protocol.ForgetAfter

// forgetGone forgets the clients gone longer than forgetAfter, as the
// browser host does: they leave the map, and the host sends PeerLeft so
// that the server frees their places in the session.
func (p *Peer) forgetGone(now time.Time) {
	changed := false
	for id, at := range p.host.gone {
		if now.Sub(at) < forgetAfter || p.host.links[id] != nil {
			continue
		}
		delete(p.host.gone, id)
		delete(p.host.states, id)
		changed = true
		if p.joined {
			p.signal(&protocol.Message{State: protocol.PeerLeft, PeerID: id})
		}
	}
	if changed {
		p.toClients(chunkText(encodeStates(p.host.states)), false)
		p.setPeers(maps.Clone(p.host.states))
	}
}

// relay delivers a Data message from `from` (JSON data, or binary bin) to
// the host itself and to every client, the sender included. A client still
// negotiating gets it when its channel opens: whoever was in the session
// when the host relayed a message gets it (a client is in from the
// SessionReady that names it), even if its side of the channel opened first.
func (p *Peer) relay(from protocol.PeerID, data json.RawMessage, bin []byte) {
	p.emitMessage(from, data, bin)
	p.handoff.stateDirty = true
	p.handoff.seq++
	if bin != nil {
		p.toClients(chunkBinary(encodeBinaryHeader(from), bin), true)
		return
	}
	p.toClients(chunkText(encodeRelay(from, data)), true)
}

// toClients sends one message's pieces to every open client, and holds them
// for the others when hold (Data messages; a state map is only a snapshot).
// A client that cannot keep up is dropped (failed, counted in SlowDrops):
// its channel refused a piece, its queue passed relayLimit, or it holds more
// than protocol.RelayMaxHeld messages (or relayLimit bytes) while it
// negotiates. The relay never waits for one client.
func (p *Peer) toClients(pieces []piece, hold bool) {
	for _, l := range p.host.links {
		if !l.open && l.dc.ReadyState() == webrtc.DataChannelStateOpen {
			p.hostOpen(l) // pion opened it; the loop has not seen the event yet
		}
	}
	size := 0
	for _, pc := range pieces {
		size += pc.size()
	}
	limit := p.relayLimit()
	var slow []protocol.PeerID
	for id, l := range p.host.links {
		switch {
		case l.open && !l.healing:
			if !p.sendPieces(l, pieces) || l.dc.BufferedAmount() > limit {
				slow = append(slow, id)
			}
		case hold:
			l.outbox = append(l.outbox, pieces...)
			l.held++
			l.heldBytes += size
			if l.held > protocol.RelayMaxHeld || uint64(l.heldBytes) > limit {
				slow = append(slow, id)
			}
		}
	}
	for _, id := range slow {
		if p.host.links[id] == nil { // dropped meanwhile (hostDrop sends the map, which comes here again)
			continue
		}
		p.log.Warn("p2pstreams: client cannot keep up, dropping it", "peer", id, "reason", protocol.CodeSlowReader, "limit", limit)
		p.slowDrops.Add(1)
		p.hostDrop(id, StateFailed)
	}
}

// setPeerState changes one entry of the host's map and sends the map.
func (p *Peer) setPeerState(id protocol.PeerID, s State) {
	if old, ok := p.host.states[id]; ok && old == s {
		return
	}
	p.host.states[id] = s
	p.toClients(chunkText(encodeStates(p.host.states)), false)
	p.setPeers(maps.Clone(p.host.states))
	p.host.reportDue = true
	p.reportStates(time.Now())
}

// reportInterval spaces the host's PeerStates (the server takes one per
// 100 ms); changes in between go with the next one, from tick.
const reportInterval = 250 * time.Millisecond

// reportStates sends the host's map to the server (PeerStates, presence
// that stays true after clients close their WebSockets), with its
// successor, when it changed and reportInterval has passed since the last
// one.
func (p *Peer) reportStates(now time.Time) {
	if !p.host.reportDue || !p.joined || !p.isHostNow() || now.Sub(p.reportedAt) < reportInterval {
		return
	}
	m := make(map[protocol.PeerID]string, len(p.host.states))
	for id, s := range p.host.states {
		m[id] = s.String()
	}
	data, _ := json.Marshal(m)
	p.host.reportDue, p.reportedAt = false, now
	p.signal(&protocol.Message{State: protocol.PeerStates, Data: data, Successor: p.host.successor()})
}

// successor is the client the host names to host after it: the one
// connected longest (its channel open first), as the browser host does;
// "" when no client is connected.
func (h *hostRole) successor() protocol.PeerID {
	var best *link
	for id, l := range h.links {
		if !l.open || h.states[id] != StateConnected {
			continue
		}
		if best == nil || l.openedAt.Before(best.openedAt) || l.openedAt.Equal(best.openedAt) && id < best.remote {
			best = l
		}
	}
	if best == nil {
		return ""
	}
	return best.remote
}

// relayLimit is how many relayed bytes may wait for one client before the
// host drops it as slow (protocol.RelayMaxQueued).
func (p *Peer) relayLimit() uint64 {
	return uint64(max(protocol.RelayMaxQueued, 2*p.set.maxMessage))
}
