package p2pstreams

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Host liveness (PROTOCOL.md, "Liveness"). A client whose link to its host
// failed reports it (HostUnreachable). Its node asks the host's node, through
// the broker, to probe the host: the host's connection sends HostProbe, which
// only the host's own code answers (HostAlive); a browser answers WebSocket
// pings even while its page is frozen, so a ping would prove nothing. No
// answer within ProbeTimeout, or no node serving the host at all (its node
// died), and the session is reset as if the host had left. A false report
// costs one probe and its answer.
//
// Bounds: a connection reports at most once per ProbeTimeout, and a host is
// probed at most once per ProbeTimeout (a probe that is waiting for its
// answer absorbs the reports that come meanwhile), so no member can make the
// server probe in a loop. A host holds a timer only while a probe waits.

// probeMark is the broker message that asks a host's connection to probe
// its peer; it is never forwarded. (See resetMark and readyMark: JSON
// never starts with it, and only servers publish to the broker.)
const probeMark = 0x03

// presenceMark is a broker message that every connection drops: publishing
// it counts the nodes that serve a topic, and disturbs nobody.
const presenceMark = 0x04

var probeRequest, presenceCheck = []byte{probeMark}, []byte{presenceMark}

var hostProbeMessage = protocol.Encode(&protocol.Message{State: protocol.HostProbe})

// prober is a connection's liveness state, made when the connection first
// reports or is probed: most connections never need one.
type prober struct {
	reported time.Time // the reader's: when this client last reported its host

	mu    sync.Mutex
	sent  time.Time   // when the last HostProbe went to this host
	timer *time.Timer // while a HostProbe waits for its HostAlive
	n     uint32      // the number of that probe
}

// reportUnreachable handles a client's HostUnreachable.
func (c *conn) reportUnreachable(host PeerID) {
	s := c.srv
	mb := c.m.Load()
	switch {
	case mb == nil:
		c.fail(protocol.CodeNotJoined, "join a session first")
		return
	case mb.host == mb.peer:
		c.fail(protocol.CodeBadMessage, "the host does not report itself")
		return
	case host != mb.host:
		return // a former host: the session has moved on already
	}
	pr := c.prober()
	now := time.Now()
	if now.Sub(pr.reported) < s.o.ProbeTimeout {
		c.fail(protocol.CodeRateLimited, "one HostUnreachable per "+s.o.ProbeTimeout.String())
		return
	}
	pr.reported = now
	ctx, cancel := s.storeContext()
	defer cancel()
	if _, err := s.askProbe(ctx, mb.session, host); err != nil {
		c.fail(protocol.CodeUnavailable, "the message broker failed; try again")
	}
}

// askProbe publishes a probe request on host's topic, for its node to probe
// it, and reports whether any node serves host; when none does (its node
// died), the session is reset at once.
func (s *Server) askProbe(ctx context.Context, sid SessionID, host PeerID) (served bool, err error) {
	n, err := s.broker.Publish(ctx, PeerTopic(sid, host), probeRequest)
	if err != nil {
		s.log.Error("broker publish", "session", sid, "err", err)
		return false, err
	}
	if n == 0 {
		s.resetHost(ctx, sid, host, "no node serves it")
	}
	return n > 0, nil
}

// checkHost handles a HostCheck: a client healing its link to host, away
// from the server, asks whether a node still serves that host, without
// joining (a join would make the host renegotiate). The check is a probe
// request, as for HostUnreachable: no node serving the host (its node died)
// resets the session, answered HostLeft; else the answer is HostAlive, and
// the host's node probes the host (rate-limited per host, see probeHost).
// One check per connection, before any join: a client checks on a fresh
// connection, then closes it or joins.
func (c *conn) checkHost(tok string, host PeerID) {
	s := c.srv
	switch {
	case c.m.Load() != nil:
		c.fail(protocol.CodeAlreadyJoined, "HostCheck comes before any join")
		return
	case c.checked:
		c.fail(protocol.CodeRateLimited, "one HostCheck per connection")
		return
	}
	cl, ok := c.verify(tok, "HostCheck refused")
	if !ok {
		return
	}
	c.checked = true
	s.stats.hostChecks.Add(1)
	ctx, cancel := s.storeContext()
	defer cancel()
	served, err := s.askProbe(ctx, cl.Session, host)
	switch {
	case err != nil:
		c.fail(protocol.CodeUnavailable, "the message broker failed; try again")
	case served:
		c.send(protocol.Encode(&protocol.Message{State: protocol.HostAlive, SessionID: cl.Session, HostPeerID: host}))
	default:
		c.send(protocol.Encode(&protocol.Message{State: protocol.HostLeft, SessionID: cl.Session, HostPeerID: host}))
	}
}

// probeHost sends HostProbe to this connection's peer if it is a host, unless
// a probe was sent less than ProbeTimeout ago; with no HostAlive within
// ProbeTimeout, hostSilent resets the session.
func (c *conn) probeHost() {
	mb := c.m.Load()
	if mb == nil || mb.host != mb.peer || c.reset.Load() {
		return
	}
	pr := c.prober()
	pr.mu.Lock()
	if time.Since(pr.sent) < c.srv.o.ProbeTimeout {
		pr.mu.Unlock()
		return
	}
	pr.sent = time.Now()
	pr.n++
	n := pr.n
	pr.timer = time.AfterFunc(c.srv.o.ProbeTimeout, func() { c.hostSilent(mb, n) })
	pr.mu.Unlock()
	c.send(hostProbeMessage)
}

// hostAlive handles the host's HostAlive.
func (c *conn) hostAlive() {
	pr := c.prober()
	pr.mu.Lock()
	if pr.timer != nil {
		pr.timer.Stop()
		pr.timer = nil
	}
	pr.mu.Unlock()
}

// hostSilent is the end of probe n, unanswered: the host's code does not
// run (a frozen tab) or its network dropped. Its membership ends here, as
// if it had left (the reader, seeing reset, only releases it), and its
// connection is closed with host_unresponsive: when it wakes up it finds
// the session reset and joins again, as a client of the new host.
func (c *conn) hostSilent(mb *membership, n uint32) {
	pr := c.prober()
	pr.mu.Lock()
	expired := pr.timer != nil && pr.n == n
	if expired {
		pr.timer = nil
	}
	pr.mu.Unlock()
	if !expired || c.m.Load() != mb || c.reset.Swap(true) {
		return
	}
	ctx, cancel := c.srv.storeContext()
	defer cancel()
	c.srv.resetHost(ctx, mb.session, mb.peer, "it did not answer HostProbe")
	c.closeWith(ws.StatusPolicyViolation, protocol.CodeHostUnresponsive,
		"no HostAlive within "+strconv.FormatInt(c.srv.o.ProbeTimeout.Milliseconds(), 10)+" ms: the session was reset")
}

// releaseStale handles a join refused because the peer is connected
// already. When no node serves that other connection (its node died: only
// its lease is left), it ends that presence, as for an unreachable host,
// and reports true: the join may be tried once more (a host whose node
// died thus gets its session back at once, not at lease expiry). Otherwise
// the other connection is live, and the join is refused.
func (s *Server) releaseStale(ctx context.Context, sid SessionID, p PeerID) bool {
	n, err := s.broker.Publish(ctx, PeerTopic(sid, p), presenceCheck)
	if err != nil || n > 0 {
		return false
	}
	s.resetHost(ctx, sid, p, "its node is gone")
	return true
}

// prober returns the connection's prober, making it on first use.
func (c *conn) prober() *prober {
	if pr := c.probe.Load(); pr != nil {
		return pr
	}
	c.probe.CompareAndSwap(nil, new(prober))
	return c.probe.Load()
}

// resetHost ends host's presence in session sid, which resets the session if
// it is still the host, and tells the other connected members (HostLeft).
func (s *Server) resetHost(ctx context.Context, sid SessionID, host PeerID, why string) {
	d, err := s.store.Leave(ctx, sid, host, false)
	if err != nil {
		s.log.Error("store leave", "session", sid, "peer", host, "err", err)
		return
	}
	if d.WasHost {
		s.log.Info("host unreachable: session reset", "session", sid, "host", host, "why", why)
		s.stats.hostResets.Add(1)
		s.dropPresence(sid, host)
		s.sessionEnded(ctx, sid, host) // before HostLeft: a client that rejoins at once sees it ended
		s.hostLeft(ctx, sid, host, d.Connected)
	}
}

// hostLeft tells the connected members of a session whose host left that it
// was reset.
func (s *Server) hostLeft(ctx context.Context, sid SessionID, host PeerID, connected []PeerID) {
	left := protocol.Encode(&protocol.Message{State: protocol.HostLeft, SessionID: sid, HostPeerID: host})
	msg := append([]byte{resetMark}, left...)
	for _, p := range connected {
		if _, err := s.broker.Publish(ctx, PeerTopic(sid, p), msg); err != nil {
			s.log.Error("broker publish", "session", sid, "err", err)
		}
	}
}
