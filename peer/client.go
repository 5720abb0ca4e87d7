package peer

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// The client's side (loop goroutine only). A client answers its host's
// offer, sends what the app sends to the host, and delivers what the host
// relays. Losing the link to the host ends the round.

// clientRole is what only a client uses, owned by the loop goroutine. A
// new one starts each round (its zero value).
type clientRole struct {
	toHost    *link
	early     []webrtc.ICECandidateInit // host candidates before its offer
	lostTimer *time.Timer               // the link is lost, HostLeft may follow
	lostErr   error
	restored  bool      // restored the current host's first state
	recent    []Message // the last Data messages, for a state's "after"
}

func (p *Peer) clientOffer(data json.RawMessage) error {
	if p.client.toHost != nil { // the host renegotiates from scratch (it saw us rejoin)
		p.closeLink(p.client.toHost)
		p.client.toHost = nil
		p.mu.Lock()
		p.sendLink = nil
		p.mu.Unlock()
	}
	var offer webrtc.SessionDescription
	if err := json.Unmarshal(data, &offer); err != nil {
		return fmt.Errorf("peer: bad offer from the host: %w", err)
	}
	l, err := p.newLink(p.hostIDNow(), false, p.set.iceServers)
	if err != nil {
		return fmt.Errorf("peer: new peer connection: %w", err)
	}
	p.client.toHost = l
	p.client.restored, p.client.recent = false, nil // the first state of this host replaces the app's
	for _, c := range p.client.early {
		l.addCandidate(c)
	}
	p.client.early = nil
	if err := l.setRemote(offer); err != nil {
		return fmt.Errorf("peer: set offer: %w", err)
	}
	answer, err := l.pc.CreateAnswer(nil)
	if err == nil {
		err = l.pc.SetLocalDescription(answer)
	}
	if err != nil {
		return fmt.Errorf("peer: answer: %w", err)
	}
	out, _ := json.Marshal(answer)
	p.signal(&protocol.Message{State: protocol.SdpAnswer, To: l.remote, Data: out})
	// Both descriptions are set: ICE and DTLS are under way. (Said here as
	// well as on the "connecting" event, as the browser client does.)
	p.setState(StateConnecting)
	return nil
}

func (p *Peer) clientLinkEvent(l *link, ev event) error {
	switch ev.kind {
	case evCandidate:
		p.localCandidate(l, ev.cand)
	case evNegotiate:
		p.negotiationNeeded(l)
	case evPCState:
		switch ev.pcState {
		case webrtc.PeerConnectionStateConnecting:
			if !l.open {
				p.setState(StateConnecting)
			}
		case webrtc.PeerConnectionStateDisconnected:
			if l.open {
				p.startHeal(l, "connection disconnected")
			}
		case webrtc.PeerConnectionStateConnected:
			p.checkHealed(l)
		case webrtc.PeerConnectionStateFailed:
			return p.hostLost(fmt.Errorf("%w: %w: ICE failed", ErrDisconnected, ErrICEFailed))
		case webrtc.PeerConnectionStateClosed:
			return p.hostLost(fmt.Errorf("%w: connection %s", ErrDisconnected, ev.pcState))
		}
	case evOpen:
		if !l.open {
			p.clientOpen(l, ev.dc)
		}
	case evClose:
		return p.hostLost(fmt.Errorf("%w: the DataChannel closed", ErrDisconnected))
	case evData:
		if !l.open {
			p.clientOpen(l, ev.dc)
		}
		p.checkHealed(l)
		if p.negotiationMessage(l, ev.wire) {
			return nil
		}
		switch ev.wire.Type {
		case typeData:
			p.keepRecent(Message{From: ev.wire.SenderID, Data: ev.wire.Data, Binary: ev.wire.Binary})
			p.emitMessage(ev.wire.SenderID, ev.wire.Data, ev.wire.Binary)
		case typeHostState:
			p.keepHostState(ev.wire.Data, ev.wire.After)
		case typeError: // the host refused a message of ours
			p.emitError(&protocol.CodeError{Code: ev.wire.Code, Text: ev.wire.Text})
		case typeState:
			m, err := decodeStates(ev.wire.Data)
			if err != nil {
				p.log.Warn("p2pstreams: bad state map from the host", "err", err)
				return nil
			}
			p.setPeers(m)
			p.clientTracks(l)
		}
	}
	return nil
}

func (p *Peer) clientOpen(l *link, dc *webrtc.DataChannel) {
	l.dc = dc
	l.open = true
	l.seen()
	p.wasConnected = true
	p.mu.Lock()
	p.sendLink = l
	p.mu.Unlock()
	p.declareAll(l) // channels.go
	p.setState(StateConnected)
	p.markReady()
	if !p.set.keepSignaling && p.sig != nil {
		// Connected: the server is not needed until the next rejoin.
		p.sig.close()
		p.sig = nil
	}
}

// hostLostGrace is how long a client that kept its signaling connection
// waits, after losing its link, for the server's HostLeft: a host that
// leaves closes its links and the server tells its clients at about the
// same time, and HostLeft says more.
const hostLostGrace = 200 * time.Millisecond

// hostLost ends the round with err, after hostLostGrace when HostLeft may
// still come.
func (p *Peer) hostLost(err error) error {
	if p.sig == nil {
		return err
	}
	if p.client.lostTimer == nil {
		p.client.lostErr = err
		p.client.lostTimer = time.NewTimer(hostLostGrace)
	}
	return nil
}
