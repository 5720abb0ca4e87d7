package p2pstreams

import (
	"bytes"
	"context"
	"crypto/rand"
	"strconv"
	"sync"
	"sync/atomic"
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
// A HostCheck (a suspecting client's question, see checkHost) waits for the
// probe's outcome: its probe request names a reply topic, on which the
// host's node answers alive or left once it knows.
//
// Bounds: a connection reports at most once per ProbeTimeout, and a host is
// probed at most once per ProbeTimeout (a probe that is waiting for its
// answer absorbs the reports and checks that come meanwhile), so no member
// can make the server probe in a loop. A host holds a timer only while a
// probe waits.

// probeMark starts the broker message that asks a host's connection to
// probe its peer; it is never forwarded. (See resetMark and readyMark: JSON
// never starts with it, and only servers publish to the broker.) After the
// mark comes the reply topic of a HostCheck waiting for the outcome, if any.
const probeMark = 0x03

// presenceMark is a broker message that every connection drops: publishing
// it counts the nodes that serve a topic, and disturbs nobody.
const presenceMark = 0x04

var probeRequest, presenceCheck = []byte{probeMark}, []byte{presenceMark}

// The answers on a HostCheck's reply topic.
var (
	probeAlive = []byte("alive")
	probeLeft  = []byte("left")
)

// replyMark starts every reply topic: no PeerTopic starts with NUL (a
// session id is never empty). replyPrefix adds a random part, which keeps
// the topics of several processes apart; maxReplyTopic bounds what a probe
// request may name.
const (
	replyMark     = "\x00check\x00"
	maxReplyTopic = 64
)

var replyPrefix = replyMark + rand.Text() + "\x00"

// maxWaiting bounds the HostChecks one probe answers; more wait out their
// bound (see awaitProbe) and are answered from a presence check.
const maxWaiting = 64

var replySeq atomic.Uint64

var hostProbeMessage = protocol.Encode(&protocol.Message{State: protocol.HostProbe})

// prober is a connection's liveness state, made when the connection first
// reports or is probed: most connections never need one.
type prober struct {
	reported time.Time // the reader's: when this client last reported its host

	mu      sync.Mutex
	sent    time.Time   // when the last HostProbe went to this host
	timer   *time.Timer // while a HostProbe waits for its HostAlive
	n       uint32      // the number of that probe
	alive   bool        // the last probe was answered
	waiting []string    // reply topics of the HostChecks waiting for this probe
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
	if _, err := s.askProbe(ctx, mb.session, host, probeRequest); err != nil {
		c.fail(protocol.CodeUnavailable, "the message broker failed; try again")
	}
}

// askProbe publishes the probe request req on host's topic, for its node to probe
// it, and reports whether any node serves host; when none does (its node
// died), the session is reset at once.
func (s *Server) askProbe(ctx context.Context, sid SessionID, host PeerID, req []byte) (served bool, err error) {
	n, err := s.broker.Publish(ctx, PeerTopic(sid, host), req)
	if err != nil {
		s.log.Error("broker publish", "session", sid, "err", err)
		return false, err
	}
	if n == 0 {
		s.resetHost(ctx, sid, host, "no node serves it")
	}
	return n > 0, nil
}

// checkHost handles a HostCheck: a client that suspects host (its link to
// it heals, or it went silent) asks whether host is alive, without joining (a
// join would make the host renegotiate). A host removed by the operator is
// not; else the check is a probe request, as for HostUnreachable, and the
// answer waits for its outcome: no node serving the host (its node died)
// resets the session at once, answered HostLeft; a host that answers the
// probe (or did less than ProbeTimeout ago) is HostAlive; one that does not
// is reset by its node, answered HostLeft. One check per connection, before
// any join: a client checks on a fresh connection, then closes it or joins.
// The reader waits for the answer (at most 2 × ProbeTimeout), so the
// connection does nothing else meanwhile.
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
	code, err := s.refusedJoin(ctx, cl.Session, cl.Peer)
	var hostCode protocol.Code
	if err == nil {
		hostCode, err = s.refusedJoin(ctx, cl.Session, host)
	}
	switch {
	case err != nil:
		s.log.Error("store refused", "session", cl.Session, "peer", cl.Peer, "err", err)
		c.fail(protocol.CodeUnavailable, "the session store failed; try again")
		return
	case code != "":
		c.fail(code, "removed by the server's operator")
		return
	}
	left := hostCode != ""
	if !left {
		var err error
		if left, err = s.awaitProbe(cl.Session, host); err != nil {
			c.fail(protocol.CodeUnavailable, "the message broker failed; try again")
			return
		}
	}
	state := protocol.HostAlive
	if left {
		state = protocol.HostLeft
	}
	c.send(protocol.Encode(&protocol.Message{State: state, SessionID: cl.Session, HostPeerID: host}))
}

// awaitProbe asks host's node to probe it, naming a reply topic, and
// reports whether the host is gone: served by no node (the session is then
// reset here), or reset by its node for not answering. With no reply within
// 2 × ProbeTimeout (the probe's deadline, then the node's reset and reply),
// a presence check decides.
func (s *Server) awaitProbe(sid SessionID, host PeerID) (left bool, err error) {
	reply := replyPrefix + strconv.FormatUint(replySeq.Add(1), 36)
	answer := make(chan bool, 1)
	ctx, cancel := s.storeContext()
	defer cancel()
	unsubscribe, err := s.broker.Subscribe(ctx, reply, func(msg []byte) {
		select {
		case answer <- string(msg) == string(probeAlive):
		default: // the first answer counts
		}
	})
	if err != nil {
		s.log.Error("broker subscribe", "session", sid, "err", err)
		return false, err
	}
	defer unsubscribe()
	switch served, err := s.askProbe(ctx, sid, host, append([]byte{probeMark}, reply...)); {
	case err != nil:
		return false, err
	case !served:
		return true, nil
	}
	cancel()
	t := time.NewTimer(2 * s.o.ProbeTimeout)
	defer t.Stop()
	select {
	case alive := <-answer:
		return !alive, nil
	case <-s.stop:
		return false, nil
	case <-t.C:
	}
	ctx, cancel = s.storeContext()
	defer cancel()
	n, err := s.broker.Publish(ctx, PeerTopic(sid, host), presenceCheck)
	if err != nil {
		return false, err
	}
	if n == 0 {
		s.resetHost(ctx, sid, host, "no node serves it")
	}
	return n == 0, nil
}

// answerCheck tells the HostCheck waiting on reply whether its host is alive.
func (s *Server) answerCheck(reply string, alive bool) {
	msg := probeLeft
	if alive {
		msg = probeAlive
	}
	ctx, cancel := s.storeContext()
	defer cancel()
	if _, err := s.broker.Publish(ctx, reply, msg); err != nil {
		s.log.Warn("broker publish", "err", err)
	}
}

// probeHost sends HostProbe to this connection's peer if it is a host, unless
// a probe was sent less than ProbeTimeout ago; with no HostAlive within
// ProbeTimeout, hostSilent resets the session. reply is the reply topic of
// a HostCheck waiting for the outcome, or empty. It runs in the broker's
// callback, so it must not block: answers go out from a goroutine.
func (c *conn) probeHost(reply []byte) {
	if len(reply) > maxReplyTopic || !bytes.HasPrefix(reply, []byte(replyMark)) {
		reply = nil // not a reply topic: only servers publish, so never seen
	}
	answer := func(alive bool) {
		if reply != nil {
			go c.srv.answerCheck(string(reply), alive)
		}
	}
	mb := c.m.Load()
	if mb == nil || mb.host != mb.peer || c.reset.Load() {
		answer(false) // not the host (any more)
		return
	}
	pr := c.prober()
	pr.mu.Lock()
	if time.Since(pr.sent) < c.srv.o.ProbeTimeout {
		switch {
		case pr.timer == nil: // decided: answered, or reset
			alive := pr.alive
			pr.mu.Unlock()
			answer(alive)
		default:
			if reply != nil && len(pr.waiting) < maxWaiting {
				pr.waiting = append(pr.waiting, string(reply))
			}
			pr.mu.Unlock()
		}
		return
	}
	pr.sent = time.Now()
	pr.n++
	n := pr.n
	pr.alive = false
	pr.waiting = nil
	if reply != nil {
		pr.waiting = append(pr.waiting, string(reply))
	}
	pr.timer = time.AfterFunc(c.srv.o.ProbeTimeout, func() { c.hostSilent(mb, n) })
	pr.mu.Unlock()
	c.send(hostProbeMessage)
}

// hostAlive handles the host's HostAlive: the probe waiting for it, if any,
// is answered, and so are the HostChecks waiting for it.
func (c *conn) hostAlive() {
	for _, r := range c.endProbe(true) {
		c.srv.answerCheck(r, true)
	}
}

// endProbe stops the waiting probe, if any, records its outcome and returns
// the reply topics of the HostChecks that wait for it.
func (c *conn) endProbe(alive bool) []string {
	pr := c.prober()
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.timer == nil {
		return nil
	}
	pr.timer.Stop()
	pr.timer = nil
	pr.alive = alive
	w := pr.waiting
	pr.waiting = nil
	return w
}

// hostSilent is the end of probe n, unanswered: the host's code does not
// run (a frozen tab) or its network dropped. Its membership ends here, as
// if it had left (the reader, seeing reset, only releases it), and its
// connection is closed with host_unresponsive: when it wakes up it finds
// the session reset and joins again, as a client of the new host. The
// HostChecks waiting for the probe are answered once the session is reset.
func (c *conn) hostSilent(mb *membership, n uint32) {
	pr := c.prober()
	pr.mu.Lock()
	expired := pr.timer != nil && pr.n == n
	var waiting []string
	if expired {
		pr.timer = nil
		waiting, pr.waiting = pr.waiting, nil
	}
	pr.mu.Unlock()
	if !expired {
		return
	}
	defer func() {
		for _, r := range waiting {
			c.srv.answerCheck(r, false)
		}
	}()
	if c.m.Load() != mb || c.reset.Swap(true) {
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
