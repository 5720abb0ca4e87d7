package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// The loop: one goroutine per Peer owns every piece of session state (the
// signaling connection, the links, the host's map). Everything else —
// pion's callbacks, the signaling reader, the host's redials, Send on the
// host, Close — talks to it through the inbox, which never blocks.
//
// A Peer lives through rounds. A round is one membership: (re)open the
// signaling connection if needed, SessionJoin, then act as host or client
// until something ends it. A client's round ends when it loses its host
// (HostLeft, its link closed or silent, no offer in time) or, while still
// negotiating, its signaling connection. A host's round ends only with
// Close: when it loses its signaling connection it keeps its clients and
// joins again (with backoff) to stay the host, as the browser client does.
// Between rounds comes a jittered backoff. The Peer ends on Close, on a
// refusal that retrying cannot fix, or when it loses its host and failover
// is off.

type eventKind uint8

const (
	evSig       eventKind = iota // a signaling message (sig, msg)
	evSigDown                    // the signaling reader stopped (sig, err)
	evDialed                     // a host's redial finished (sig or err)
	evPCState                    // link's RTCPeerConnection changed state
	evOpen                       // link's DataChannel opened (dc)
	evClose                      // link's DataChannel closed
	evData                       // a peer message on link's DataChannel (wire)
	evCandidate                  // a local ICE candidate of link (cand)
	evSend                       // the host's own Send (data)
	evHostState                  // the app's state for clients (link or nil, data, seq)
	evNegotiate                  // link's RTCPeerConnection needs negotiating
	evCall                       // run fn on the loop
	evFreeze                     // tests: the loop stops for pause, as a frozen process
	evHostGone                   // client: HostCheck found link's host gone (err)
)

type event struct {
	kind    eventKind
	sig     *signal
	msg     *protocol.Message
	err     error
	link    *link
	pcState webrtc.PeerConnectionState
	dc      *webrtc.DataChannel
	wire    wire
	cand    *webrtc.ICECandidateInit
	data    json.RawMessage // evSend: a JSON message; or
	bin     []byte          // evSend: a binary one
	seq     uint64          // evHostState: the messages relayed before it
	fn      func()          // evCall
	pause   time.Duration   // evFreeze
}

const (
	dialTimeout = 10 * time.Second
	joinTimeout = 15 * time.Second
)

// roundEnd is why a round ended; run decides what follows.
type roundEnd struct {
	err       error
	connected bool // the round got connected (resets the backoff)
}

func (p *Peer) run() {
	defer p.stop()
	p.makeCert()
	attempt := 0
	for {
		end := p.round()
		if errors.Is(end.err, ErrClosed) {
			p.finish(StateClosed, ErrClosed)
			return
		}
		p.mu.Lock()
		p.lastErr = end.err
		p.mu.Unlock()
		hostLost := errors.Is(end.err, ErrHostLeft) || errors.Is(end.err, ErrDisconnected)
		switch {
		case protocol.CodeOf(end.err).Fatal():
			p.finish(StateFailed, end.err)
			return
		case hostLost && !p.failoverOn:
			p.finish(StateClosed, end.err)
			return
		}
		if end.connected {
			attempt = 0
		}
		d := backoff(attempt)
		attempt++
		p.log.Debug("p2pstreams: joining again", "peer", p.id, "in", d, "after", end.err)
		if !p.sleep(d) {
			p.finish(StateClosed, ErrClosed)
			return
		}
	}
}

// backoff is the wait before retry n (0, 1, ...): protocol.Backoff.
func backoff(n int) time.Duration { return protocol.Backoff(n, rand.Float64()) }

func (p *Peer) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-p.ctx.Done():
		return false
	}
}

// finish records the final state and reason.
func (p *Peer) finish(s State, err error) {
	p.mu.Lock()
	p.err = err
	p.sendLink = nil
	p.isHost = false
	p.mu.Unlock()
	p.setState(s)
}

// stop releases everything once the loop is over; then Done is closed.
func (p *Peer) stop() {
	p.cancel()
	if p.sig != nil {
		p.sig.close()
		p.sig = nil
	}
	p.wg.Wait()
	p.inbox.close()
	if p.events != nil {
		p.events.close()
	}
	close(p.done)
}

// round runs one membership, from (re)joining to its end.
func (p *Peer) round() (end roundEnd) {
	p.joined = false
	p.wasConnected = false
	p.host, p.client = newHostRole(), clientRole{}
	p.publishFanout()
	defer func() { p.endRound(end.err) }()

	if p.sig == nil {
		ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
		sig, err := dialSignal(ctx, p.cfg.URL, p.cfg.NetDial)
		cancel()
		if err != nil {
			if p.ctx.Err() != nil {
				return roundEnd{err: ErrClosed}
			}
			return roundEnd{err: err}
		}
		p.useSignal(sig)
	}
	p.setState(StateNegotiating)
	if err := p.sig.send(&protocol.Message{State: protocol.SessionJoin, Token: p.cfg.Token}); err != nil {
		p.sig.close() // broken: the next round dials again
		p.sig = nil
		return roundEnd{err: fmt.Errorf("%w: send SessionJoin: %v", ErrSignalingLost, err)}
	}
	joinTimer := time.NewTimer(joinTimeout)
	defer joinTimer.Stop()
	var tick *time.Ticker
	var tickC <-chan time.Time
	defer func() {
		if tick != nil {
			tick.Stop()
		}
		if p.host.redialTimer != nil {
			p.host.redialTimer.Stop()
			p.host.redialTimer = nil
		}
	}()

	for {
		batch := p.backlog
		p.backlog = nil
		if len(batch) == 0 {
			var lostC, redialC <-chan time.Time
			if p.client.lostTimer != nil {
				lostC = p.client.lostTimer.C
			}
			if p.host.redialTimer != nil {
				redialC = p.host.redialTimer.C
			}
			select {
			case <-p.inbox.wake:
				batch, _ = p.inbox.take()
			case now := <-tickC:
				if err := p.tick(now); err != nil {
					return roundEnd{err: err, connected: p.wasConnected}
				}
				continue
			case <-lostC:
				return roundEnd{err: p.client.lostErr, connected: p.wasConnected}
			case <-redialC:
				p.host.redialTimer = nil
				p.redial()
				continue
			case <-joinTimer.C:
				if !p.joined && !p.isHostNow() {
					return roundEnd{err: fmt.Errorf("%w: no SessionReady within %v", ErrSignalingLost, joinTimeout)}
				}
				continue
			case <-p.ctx.Done():
				return roundEnd{err: ErrClosed}
			}
		}
		for i, ev := range batch {
			err := p.handle(ev)
			if p.joined && tick == nil {
				tick = time.NewTicker(p.set.interval)
				tickC = tick.C
			}
			if err != nil {
				p.backlog = append(p.backlog, batch[i+1:]...)
				return roundEnd{err: err, connected: p.wasConnected}
			}
		}
	}
}

// useSignal makes sig the signaling connection and starts its writer and
// its reader.
func (p *Peer) useSignal(sig *signal) {
	p.sig = sig
	sig.startWriter(&p.wg)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			m, err := sig.read()
			if err != nil {
				p.inbox.push(event{kind: evSigDown, sig: sig, err: err})
				return
			}
			p.inbox.push(event{kind: evSig, sig: sig, msg: m})
		}
	}()
}

// redial reopens a host's signaling connection in the background: the
// loop keeps relaying meanwhile.
func (p *Peer) redial() {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
		defer cancel()
		sig, err := dialSignal(ctx, p.cfg.URL, p.cfg.NetDial)
		if !p.inbox.push(event{kind: evDialed, sig: sig, err: err}) && sig != nil {
			sig.close()
		}
	}()
}

func (p *Peer) scheduleRedial() {
	p.host.redialTimer = time.NewTimer(backoff(p.host.redials))
	p.host.redials++
}

func (p *Peer) dialed(ev event) {
	if ev.err != nil {
		p.log.Debug("p2pstreams: host redial", "peer", p.id, "err", ev.err)
		p.scheduleRedial()
		return
	}
	p.useSignal(ev.sig)
	if err := p.sig.send(&protocol.Message{State: protocol.SessionJoin, Token: p.cfg.Token}); err != nil {
		p.log.Debug("p2pstreams: host rejoin", "peer", p.id, "err", err)
	}
}

// endRound tears the membership down. The signaling connection survives
// when it can carry the next SessionJoin.
func (p *Peer) endRound(reason error) {
	if p.client.lostTimer != nil {
		p.client.lostTimer.Stop()
		p.client.lostTimer = nil
	}
	closing := errors.Is(reason, ErrClosed)
	p.suspect = ""
	// A silent or vanished host is suspect; one whose offer came but whose
	// ICE path did not connect is not (it answered through the server).
	if errors.Is(reason, ErrDisconnected) && !errors.Is(reason, ErrICEFailed) && !p.isHostNow() {
		p.suspect = p.hostIDNow()
	}
	if p.sig != nil && p.joined && !errors.Is(reason, ErrHostLeft) {
		// Leave for good on Close (first, so that a host's clients hear
		// HostLeft as their links close); otherwise so that this
		// connection may join again.
		p.sig.send(&protocol.Message{State: protocol.SessionLeave})
	}
	for _, l := range p.host.links {
		p.closeLink(l)
	}
	p.closeLink(p.client.toHost)
	p.host.links, p.client.toHost = nil, nil
	p.publishFanout()
	if closing && p.sig != nil {
		p.sig.close()
		p.sig = nil
	}
	p.joined = false
	p.mu.Lock()
	p.isHost = false
	p.hostID = ""
	p.sendLink = nil
	was := p.state
	p.mu.Unlock()
	if !closing && was != StateNew {
		p.setState(StateDisconnected)
	}
}

func (p *Peer) isHostNow() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.isHost
}

func (p *Peer) hostIDNow() protocol.PeerID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hostID
}

// handle handles one event; an error ends the round.
func (p *Peer) handle(ev event) error {
	switch ev.kind {
	case evSig:
		if ev.sig != p.sig {
			return nil
		}
		return p.handleSignal(ev.msg)
	case evSigDown:
		if ev.sig != p.sig {
			return nil
		}
		return p.signalDown(ev.err)
	case evDialed:
		if p.sig != nil || !p.isHostNow() {
			if ev.sig != nil {
				ev.sig.close()
			}
			return nil
		}
		p.dialed(ev)
		return nil
	case evHostState:
		p.sendHostState(ev)
		return nil
	case evFreeze:
		p.sleep(ev.pause)
		return nil
	case evHostGone:
		if l := ev.link; l == p.client.toHost && l != nil && !l.closed && !p.isHostNow() {
			return ev.err
		}
		return nil
	case evSend:
		if p.isHostNow() {
			p.relay(p.id, ev.data, ev.bin)
		}
		p.hostPending.Add(-int64(len(ev.data) + len(ev.bin)))
		return nil
	case evCall:
		ev.fn()
		return nil
	}
	l := ev.link
	if l == nil || l.closed {
		return nil
	}
	if p.isHostNow() {
		if p.host.links[l.remote] == l {
			p.hostLinkEvent(l, ev)
		}
		return nil
	}
	if l != p.client.toHost {
		return nil
	}
	return p.clientLinkEvent(l, ev)
}

func (p *Peer) handleSignal(m *protocol.Message) error {
	switch m.State {
	case protocol.SessionReady:
		if m.PeerID == p.id || p.id == "" && !p.joined {
			return p.joinedAs(m)
		}
		if p.joined && p.isHostNow() {
			p.hostNewPeer(m.PeerID, p.linkICEServers(m.ICEServers))
		}
	case protocol.SdpOffer:
		if p.joined && !p.isHostNow() && m.From == p.hostIDNow() {
			return p.clientOffer(m.Data)
		}
	case protocol.SdpAnswer:
		if p.isHostNow() {
			p.hostAnswer(m.From, m.Data)
		}
	case protocol.IceCandidate:
		p.remoteCandidate(m.From, m.Data)
	case protocol.PeerLeft:
		if p.isHostNow() {
			p.hostDrop(m.PeerID, StateClosed)
		}
	case protocol.HostLeft:
		p.joined = false
		if !p.isHostNow() {
			return ErrHostLeft
		}
	case protocol.HostProbe:
		// The server asks whether this host's code runs; the loop's answer
		// says it does (a frozen peer would not answer).
		if !p.mute.Load() {
			p.signal(&protocol.Message{State: protocol.HostAlive})
		}
	case protocol.ServerShutdown:
		p.log.Info("p2pstreams: the signaling server is shutting down", "peer", p.id, "seconds", m.Seconds)
	case protocol.Error:
		return p.serverError(m)
	}
	return nil
}

// joinedAs handles the SessionReady that answers our SessionJoin. A host
// that joined again after losing its signaling connection stays the host
// with its clients, or, when another peer hosts now, drops them and
// becomes a client.
func (p *Peer) joinedAs(m *protocol.Message) error {
	wasHost := p.isHostNow()
	p.joined = true
	p.joinAt = time.Now()
	p.host.redials = 0
	p.set = p.cfg.settings(m.Config, p.log)
	p.set.iceServers = p.linkICEServers(m.ICEServers) // for the link to the host
	p.failoverOn = p.set.failover
	host := m.HostPeerID == m.PeerID
	p.noteHost(m.HostPeerID)
	p.mu.Lock()
	p.id, p.session, p.hostID, p.isHost = m.PeerID, m.SessionID, m.HostPeerID, host
	p.maxMessage = p.set.maxMessage
	p.mu.Unlock()
	if host {
		if !wasHost {
			p.host.states = map[protocol.PeerID]State{p.id: StateConnected}
			p.host.gone = make(map[protocol.PeerID]time.Time)
			p.takeOverState()
		}
		p.wasConnected = true
		p.setState(StateConnected)
		p.toClients(chunkText(encodeStates(p.host.states)), false)
		p.setPeers(maps.Clone(p.host.states))
		// Each join is a new membership: the server has neither the map
		// nor the successor yet (the browser host reports on joining too).
		p.host.reportDue = true
		p.reportStates(time.Now())
		p.markReady()
		return nil
	}
	if wasHost {
		for _, l := range p.host.links {
			p.closeLink(l)
		}
		clear(p.host.links)
		p.publishFanout()
		p.host.states, p.host.gone = nil, nil
	}
	if m.HostPeerID == p.suspect {
		// The host that the last round lost is host still: tell the server,
		// which probes it and resets the session if it does not answer.
		p.signal(&protocol.Message{State: protocol.HostUnreachable, HostPeerID: m.HostPeerID})
	}
	p.suspect = ""
	p.setState(StateNegotiating)
	return nil
}

func (p *Peer) serverError(m *protocol.Message) error {
	err := &protocol.CodeError{Code: m.Code, Text: m.Text}
	joining := !p.joined && !p.isHostNow()
	switch {
	case m.Code == protocol.CodePeerNotFound:
		// Late candidates for a client that closed its WebSocket: expected.
		return nil
	case m.Code == protocol.CodeSessionExpired, joining && m.Code.Class() != protocol.ClassInfo:
		return err
	case m.Code == protocol.CodeHostUnresponsive:
		// This host did not answer the server's probe in time (it was
		// frozen): the session was reset without it, and the server
		// closes this connection. Join again on a new one.
		p.joined = false
		p.sig.close()
		p.sig = nil
		return err
	}
	p.log.Warn("p2pstreams: server error", "peer", p.id, "code", m.Code, "message", m.Text)
	return nil
}

// signalDown handles the end of the signaling connection. A connected
// client does not need it; a host joins again to stay the host; a client
// still negotiating ends the round and tries again.
func (p *Peer) signalDown(err error) error {
	p.sig.close()
	p.sig = nil
	p.joined = false
	if protocol.CodeOf(err) == protocol.CodeSessionExpired {
		return err
	}
	switch {
	case p.isHostNow():
		p.log.Info("p2pstreams: host lost its signaling connection; joining again", "peer", p.id, "err", err)
		p.scheduleRedial()
		return nil
	case p.client.toHost != nil && p.client.toHost.open:
		return nil
	}
	return fmt.Errorf("%w: %w", ErrSignalingLost, err)
}

// signal sends m if the signaling connection is open.
func (p *Peer) signal(m *protocol.Message) {
	if p.sig == nil {
		return
	}
	if err := p.sig.send(m); err != nil {
		p.log.Debug("p2pstreams: signaling send", "peer", p.id, "state", m.State, "err", err)
	}
}

func (p *Peer) remoteCandidate(from protocol.PeerID, data json.RawMessage) {
	var c webrtc.ICECandidateInit
	if err := json.Unmarshal(data, &c); err != nil {
		p.log.Warn("p2pstreams: bad ICE candidate", "from", from, "err", err)
		return
	}
	var l *link
	switch {
	case p.isHostNow():
		l = p.host.links[from]
	case p.joined && from == p.hostIDNow():
		if p.client.toHost == nil {
			p.client.early = append(p.client.early, c)
			return
		}
		l = p.client.toHost
	}
	if l == nil {
		return
	}
	if err := l.addCandidate(c); err != nil {
		p.log.Debug("p2pstreams: add ICE candidate", "from", from, "err", err)
	}
}

// tick sends heartbeats and checks for silence and stuck negotiations.
func (p *Peer) tick(now time.Time) error {
	if p.isHostNow() {
		p.reportStates(now)
		for id, l := range p.host.links {
			switch {
			case l.open:
				if err := p.tickOpen(l, now); err != nil {
					p.log.Info("p2pstreams: dropping a client", "peer", id, "err", err)
					p.hostDrop(id, StateDisconnected)
				}
			case now.Sub(l.started) > p.set.connect:
				p.log.Info("p2pstreams: negotiation timed out", "peer", id)
				p.hostDrop(id, StateFailed)
			}
		}
		p.forgetGone(now)
		p.hostStateTick(now)
		return nil
	}
	l := p.client.toHost
	switch {
	case l != nil && l.open:
		if err := p.tickOpen(l, now); err != nil {
			return p.hostLost(err)
		}
	case l == nil && p.joined && now.Sub(p.joinAt) > protocol.OfferTimeout:
		return fmt.Errorf("%w: no offer from the host within %v", ErrDisconnected, protocol.OfferTimeout)
	case l != nil && now.Sub(l.started) > p.set.connect:
		return fmt.Errorf("%w: %w within %v", ErrDisconnected, ErrICEFailed, p.set.connect)
	}
	return nil
}

func (p *Peer) sendText(l *link, s string) {
	if s == heartbeatMsg && p.mute.Load() {
		return
	}
	if len(s) > protocol.ChunkSize {
		p.sendPieces(l, chunkText(s))
		return
	}
	if err := l.dc.SendText(s); err != nil {
		p.log.Debug("p2pstreams: datachannel send", "peer", l.remote, "err", err)
	}
}

// sendPieces hands one message's pieces to l's DataChannel (the host's
// loop: it never waits). It reports false when the channel refused one;
// the caller drops the client.
func (p *Peer) sendPieces(l *link, pieces []piece) bool { return p.sendPiecesOn(l, l.dc, pieces) }
