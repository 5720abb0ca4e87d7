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
// pion's callbacks, the signaling reader, Send on the host, Close — talks
// to it through the inbox, which never blocks the sender.
//
// A Peer lives through rounds. A round is one membership: (re)open the
// signaling connection if needed, SessionJoin, then act as host or client
// until something ends it (the host leaves, the link to the host is lost,
// the host loses its signaling connection, Close). With failover the next
// round starts after a jittered backoff; without, the Peer ends.

type eventKind uint8

const (
	evSig       eventKind = iota // a signaling message (sig, msg)
	evSigDown                    // the signaling reader stopped (sig, err)
	evPCState                    // link's RTCPeerConnection changed state
	evOpen                       // link's DataChannel opened (dc)
	evClose                      // link's DataChannel closed
	evData                       // a peer message on link's DataChannel (wire)
	evCandidate                  // a local ICE candidate of link (cand)
	evSend                       // the host's own Send (data)
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
	data    json.RawMessage
}

const (
	dialTimeout = 10 * time.Second
	joinTimeout = 15 * time.Second
	backoffBase = 250 * time.Millisecond
	backoffMax  = 5 * time.Second
)

// errRound ends a round; the run loop decides what follows.
type roundEnd struct {
	err       error // the reason, as Err reports it if the Peer ends here
	connected bool  // the round got connected (resets the backoff)
}

func (p *Peer) run() {
	defer p.stop()
	failures := 0
	for {
		end := p.round()
		if errors.Is(end.err, ErrClosed) {
			p.finish(StateClosed, ErrClosed)
			return
		}
		p.mu.Lock()
		p.lastErr = end.err
		p.mu.Unlock()
		var se *ServerError
		switch {
		case errors.As(end.err, &se) && fatal(se.Code):
			p.finish(StateFailed, end.err)
			return
		case !p.failoverOn:
			p.finish(StateClosed, end.err)
			return
		}
		p.log.Debug("p2pstreams: rejoining", "peer", p.id, "after", end.err)
		if end.connected {
			failures = 0
		}
		failures++
		if !p.sleep(backoff(failures)) {
			p.finish(StateClosed, ErrClosed)
			return
		}
	}
}

// backoff returns the wait before attempt n (1, 2, ...): full jitter over
// an exponentially growing window, so that after HostLeft the clients come
// back one by one and the first becomes the host.
func backoff(n int) time.Duration {
	d := backoffMax
	if n < 8 {
		d = min(backoffBase<<(n-1), backoffMax)
	}
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

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

// stop releases everything once the loop is over: then Done is closed.
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
	p.set = settings{}
	p.links = make(map[protocol.PeerID]*link)
	p.states = nil
	p.toHost = nil
	p.early = nil
	p.wasConnected = false
	p.lostTimer, p.lostErr = nil, nil
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
		p.sig = sig
		p.wg.Add(1)
		go p.readSignal(sig)
	}
	if err := p.sig.send(&protocol.Message{State: protocol.SessionJoin, Token: p.cfg.Token}); err != nil {
		return roundEnd{err: fmt.Errorf("peer: send SessionJoin: %w", err)}
	}
	joinTimer := time.NewTimer(joinTimeout)
	defer joinTimer.Stop()
	var tick *time.Ticker
	var tickC <-chan time.Time
	defer func() {
		if tick != nil {
			tick.Stop()
		}
	}()

	for {
		batch := p.backlog
		p.backlog = nil
		if len(batch) == 0 {
			var lostC <-chan time.Time
			if p.lostTimer != nil {
				lostC = p.lostTimer.C
			}
			select {
			case <-lostC:
				return roundEnd{err: p.lostErr, connected: p.wasConnected}
			case <-p.inbox.wake:
				batch, _ = p.inbox.take()
			case now := <-tickC:
				if err := p.tick(now); err != nil {
					return roundEnd{err: err, connected: p.wasConnected}
				}
				continue
			case <-joinTimer.C:
				if !p.joined {
					return roundEnd{err: errors.New("peer: no SessionReady within 15s")}
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

func (p *Peer) readSignal(s *signal) {
	defer p.wg.Done()
	for {
		m, err := s.read()
		if err != nil {
			p.inbox.push(event{kind: evSigDown, sig: s, err: err})
			return
		}
		p.inbox.push(event{kind: evSig, sig: s, msg: m})
	}
}

// endRound tears the membership down. The signaling connection survives
// when it can carry the next SessionJoin.
func (p *Peer) endRound(reason error) {
	if p.lostTimer != nil {
		p.lostTimer.Stop()
		p.lostTimer = nil
	}
	closing := errors.Is(reason, ErrClosed)
	if p.sig != nil && p.joined && !errors.Is(reason, ErrHostLeft) {
		// Leave for good on Close; otherwise so that this connection may
		// join again. (After HostLeft the server has done it; after a
		// host's PeerLeft it answers not_joined, which is harmless.) First,
		// so that a host's clients hear HostLeft as their links close.
		p.sig.send(&protocol.Message{State: protocol.SessionLeave})
	}
	for _, l := range p.links {
		p.closeLink(l)
	}
	p.closeLink(p.toHost)
	p.links, p.toHost = nil, nil
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
	case evSend:
		if p.joined && p.isHostNow() {
			p.relay(p.id, ev.data)
		}
		return nil
	}
	l := ev.link
	if l == nil || l.closed {
		return nil
	}
	if p.isHostNow() {
		if p.links[l.remote] != l {
			return nil
		}
		p.hostLinkEvent(l, ev)
		return nil
	}
	if l != p.toHost {
		return nil
	}
	return p.clientLinkEvent(l, ev)
}

func (p *Peer) handleSignal(m *protocol.Message) error {
	switch m.State {
	case protocol.SessionReady:
		if !p.joined {
			return p.joinedAs(m)
		}
		if p.isHostNow() && m.PeerID != p.id {
			p.hostNewPeer(m.PeerID)
		}
	case protocol.SdpOffer:
		if p.joined && !p.isHostNow() && m.From == p.hostIDNow() {
			return p.clientOffer(m.Data)
		}
	case protocol.SdpAnswer:
		if p.joined && p.isHostNow() {
			p.hostAnswer(m.From, m.Data)
		}
	case protocol.IceCandidate:
		p.remoteCandidate(m.From, m.Data)
	case protocol.PeerLeft:
		if p.joined && p.isHostNow() {
			p.hostDrop(m.PeerID, StateClosed, false)
		}
	case protocol.HostLeft:
		if p.joined {
			return ErrHostLeft
		}
	case protocol.ServerShutdown:
		p.log.Info("p2pstreams: the signaling server is shutting down", "peer", p.id, "seconds", m.Seconds)
	case protocol.Error:
		return p.serverError(m)
	}
	return nil
}

func (p *Peer) hostIDNow() protocol.PeerID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hostID
}

// joinedAs handles the SessionReady that answers our SessionJoin.
func (p *Peer) joinedAs(m *protocol.Message) error {
	if p.id != "" && m.PeerID != p.id {
		return nil // for an old membership of this connection
	}
	p.joined = true
	p.joinAt = time.Now()
	p.set = p.cfg.settings(m.Config, p.log)
	p.failoverOn = p.set.failover
	host := m.HostPeerID == m.PeerID
	p.mu.Lock()
	p.id, p.session, p.hostID, p.isHost = m.PeerID, m.SessionID, m.HostPeerID, host
	p.mu.Unlock()
	if host {
		p.states = map[protocol.PeerID]State{p.id: StateConnected}
		p.wasConnected = true
		p.setState(StateConnected)
		p.setPeers(maps.Clone(p.states))
		p.markReady()
		return nil
	}
	p.setState(StateNegotiating)
	return nil
}

// serverError handles an Error message. Before SessionReady it refuses
// the join and ends the round; after, only session_expired is fatal (the
// server closes the connection next), the rest is logged.
func (p *Peer) serverError(m *protocol.Message) error {
	err := &ServerError{Code: m.Code, Message: m.Text}
	switch {
	case !p.joined && m.Code != protocol.CodePeerNotFound && m.Code != protocol.CodeNotJoined &&
		m.Code != protocol.CodeRateLimited:
		return err
	case m.Code == protocol.CodeSessionExpired:
		return err
	}
	p.log.Warn("p2pstreams: server error", "peer", p.id, "code", m.Code, "message", m.Text)
	return nil
}

// signalDown handles the end of the signaling connection. A client with an
// open DataChannel does not need it; anyone else does.
func (p *Peer) signalDown(err error) error {
	p.sig.close()
	p.sig = nil
	var ce *CloseError
	if errors.As(err, &ce) && ce.Reason == string(protocol.CodeSessionExpired) {
		return &ServerError{Code: protocol.CodeSessionExpired, Message: "the session has expired"}
	}
	if p.joined && !p.isHostNow() && p.toHost != nil && p.toHost.open {
		return nil
	}
	return fmt.Errorf("%w: %v", ErrSignalingLost, err)
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
	if !p.joined {
		return
	}
	var l *link
	if p.isHostNow() {
		l = p.links[from]
	} else if from == p.hostIDNow() {
		if p.toHost == nil {
			p.early = append(p.early, c)
			return
		}
		l = p.toHost
	}
	if l == nil {
		return
	}
	if err := l.addCandidate(c); err != nil {
		p.log.Warn("p2pstreams: add ICE candidate", "from", from, "err", err)
	}
}

// tick sends heartbeats and checks for silence and stuck negotiations.
func (p *Peer) tick(now time.Time) error {
	if p.isHostNow() {
		for id, l := range p.links {
			switch {
			case l.open && l.idleFor(now) > p.set.idle:
				p.log.Info("p2pstreams: client silent, dropping it", "peer", id, "idle", l.idleFor(now))
				p.hostDrop(id, StateDisconnected, true)
			case l.open:
				p.sendText(l, heartbeatMsg)
			case now.Sub(l.started) > p.cfg.NegotiationTimeout:
				p.log.Info("p2pstreams: negotiation timed out", "peer", id)
				p.hostDrop(id, StateFailed, true)
			}
		}
		return nil
	}
	l := p.toHost
	switch {
	case l != nil && l.open && l.idleFor(now) > p.set.idle:
		return fmt.Errorf("%w: no message from the host for %v", ErrDisconnected, l.idleFor(now).Round(time.Millisecond))
	case l != nil && l.open:
		p.sendText(l, heartbeatMsg)
	case now.Sub(p.joinAt) > p.cfg.NegotiationTimeout:
		return fmt.Errorf("%w: not connected to the host within %v", ErrDisconnected, p.cfg.NegotiationTimeout)
	}
	return nil
}

func (p *Peer) sendText(l *link, s string) {
	if s == heartbeatMsg && p.mute.Load() {
		return
	}
	if err := l.dc.SendText(s); err != nil {
		p.log.Debug("p2pstreams: datachannel send", "peer", l.remote, "err", err)
	}
}
