package peer

import (
	"context"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Healing (loop goroutine, but for hold). A link whose path breaks while
// its DataChannel is open — ICE says "disconnected", or the remote is
// silent past the heartbeat's idle timeout — is not dropped: it heals. Its
// RTCPeerConnection and channel stay; ICE recovers when a path comes back
// (a browser peer also restarts ICE over the channel, negotiate.go), and
// SCTP delivers what was already in the channel. Meanwhile the app's
// messages wait, bounded (protocol.HealMaxHeld): on a client in the link's held
// list, on the host in the client's outbox. They go out in order once the
// link is healed: ICE connected again and the remote heard since the
// break. A link that has not healed within the heal timeout, or whose
// channel or connection ends, is lost as before; a client then rejoins
// through the server, and what it held is reported lost (OnError,
// ErrMessagesLost), never dropped silently.

// startHeal marks l as healing (no-op if it is already).
func (p *Peer) startHeal(l *link, why string) {
	if l.healing {
		return
	}
	l.hmu.Lock()
	l.healing = true
	l.hmu.Unlock()
	l.healSince = time.Now()
	p.log.Info("p2pstreams: link broken, healing", "peer", l.remote, "why", why)
	p.checkHost(l)
}

// checkHost asks the server, on a signaling connection of its own and
// without joining (a join would make the host renegotiate), whether l's
// host is still alive (HostCheck): when a client's link to its host starts
// healing, or when the host has been silent for the idle timeout while ICE
// still says connected (a frozen host, or one whose node died before ICE
// noticed). The server probes the host and answers with the outcome: a host
// whose node died, or that does not answer, is reset and answered HostLeft,
// and the client rejoins at once instead of at the end of the heal timeout
// or of twice the idle timeout. Any other outcome (HostAlive, an error, no
// server) changes nothing. One check per silence: not again until the
// host has been heard.
func (p *Peer) checkHost(l *link) {
	if p.isHostNow() || l != p.client.toHost {
		return
	}
	seen := l.lastSeen.Load()
	if seen == l.checkedSeen {
		return
	}
	l.checkedSeen = seen
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		left, err := p.askHost(l.remote)
		switch {
		case err != nil:
			p.log.Debug("p2pstreams: HostCheck", "peer", p.id, "host", l.remote, "err", err)
		case left:
			p.inbox.push(event{kind: evHostGone, link: l,
				err: fmt.Errorf("%w: host %s is gone (HostCheck)", ErrHostLeft, l.remote)})
		}
	}()
}

// askHost sends HostCheck for host and reports whether the answer is HostLeft.
func (p *Peer) askHost(host protocol.PeerID) (bool, error) {
	ctx, cancel := context.WithTimeout(p.ctx, dialTimeout)
	defer cancel()
	sig, err := dialSignal(ctx, p.cfg.URL, p.cfg.NetDial)
	if err != nil {
		return false, err
	}
	defer sig.close()
	defer context.AfterFunc(ctx, sig.close)() // bounds the read below
	if err := sig.send(&protocol.Message{State: protocol.HostCheck, Token: p.cfg.Token, HostPeerID: host}); err != nil {
		return false, err
	}
	for {
		m, err := sig.read()
		if err != nil {
			return false, err
		}
		switch m.State {
		case protocol.HostLeft:
			return true, nil
		case protocol.HostAlive:
			return false, nil
		case protocol.Error:
			return false, &protocol.CodeError{Code: m.Code, Text: m.Text}
		}
	}
}

// checkHealed ends l's healing once ICE is connected again and the remote
// has been heard since the break began; the held messages go out first.
func (p *Peer) checkHealed(l *link) {
	if !l.healing || l.pc.ConnectionState() != webrtc.PeerConnectionStateConnected ||
		!time.Unix(0, l.lastSeen.Load()).After(l.healSince) {
		return
	}
	p.log.Info("p2pstreams: link healed", "peer", l.remote, "after", time.Since(l.healSince).Round(time.Millisecond))
	l.hmu.Lock() // Send holds nothing more once healing is false
	held := l.healHeld
	l.healHeld, l.healing = nil, false
	for _, pieces := range held {
		p.sendPieces(l, pieces)
	}
	l.hmu.Unlock()
	if !p.flushOutbox(l) {
		p.hostDrop(l.remote, StateFailed)
		return
	}
	if p.host.states != nil { // host: the map it did not send meanwhile
		p.sendPieces(l, chunkText(encodeStates(p.host.states)))
	}
	p.heals.Add(1)
}

// healExpired reports whether l has been healing for longer than allowed.
func (p *Peer) healExpired(l *link, now time.Time) bool {
	return l.healing && now.Sub(l.healSince) > p.set.heal
}

// hold keeps a client's Data message (its pieces) while l heals. It
// reports whether it took it; err says why it could not be kept.
func (l *link) hold(pieces []piece) (bool, error) {
	l.hmu.Lock()
	defer l.hmu.Unlock()
	if !l.healing {
		return false, nil
	}
	select {
	case <-l.gone:
		return true, ErrNotConnected
	default:
	}
	if len(l.healHeld) >= protocol.HealMaxHeld {
		return true, fmt.Errorf("%w: %d messages wait for the link to heal", ErrQueueFull, len(l.healHeld))
	}
	l.healHeld = append(l.healHeld, pieces)
	return true, nil
}

// reportLost tells the app about the messages a lost link still held.
// Called once l is gone, so nothing more is held after.
func (p *Peer) reportLost(l *link) {
	l.hmu.Lock()
	n := len(l.healHeld)
	l.healHeld = nil
	l.hmu.Unlock()
	if n > 0 {
		p.emitError(fmt.Errorf("%w: %d messages sent to %s while the link was healing", ErrMessagesLost, n, l.remote))
	}
}

// tickOpen is the heartbeat of an open link. A remote silent past the idle
// timeout is healed when ICE too says the path broke; while ICE still says
// connected, a client asks the server about its host (checkHost), and the
// remote itself is frozen (its ICE stack answers, its app does not) once
// the silence lasts another idle timeout. tickOpen reports why the link is
// lost, or nil.
func (p *Peer) tickOpen(l *link, now time.Time) error {
	idle := l.idleFor(now)
	switch {
	case p.healExpired(l, now):
		return fmt.Errorf("%w: the link did not heal within %v", ErrDisconnected, p.set.heal)
	case l.healing:
		p.checkHealed(l)
	case idle > p.set.idle && l.pc.ConnectionState() != webrtc.PeerConnectionStateConnected:
		p.startHeal(l, fmt.Sprintf("silent for %v, connection %s", idle.Round(time.Millisecond), l.pc.ConnectionState()))
	case idle > 2*p.set.idle:
		return fmt.Errorf("%w: no message for %v", ErrDisconnected, idle.Round(time.Millisecond))
	case idle > p.set.idle:
		p.checkHost(l) // a client's: the server knows sooner
	case p.set.idle-idle < p.set.interval && l == p.client.toHost && !p.isHostNow():
		// The idle timeout passes before the next tick: check then, not up
		// to an interval late.
		time.AfterFunc(p.set.idle-idle+time.Millisecond, func() {
			p.inbox.push(event{kind: evCall, fn: func() {
				if !l.closed && !l.healing && l.idleFor(time.Now()) > p.set.idle {
					p.checkHost(l)
				}
			}})
		})
	}
	p.sendText(l, heartbeatMsg)
	return nil
}
