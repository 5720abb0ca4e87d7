package p2pstreams

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/gobwas/ws"

	"github.com/p2pstreams/p2pstreams/internal/lazyread"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// resetMark starts a broker message that, besides being forwarded to the
// peer, tells its connection that its session was reset. Only servers
// publish to the broker, and JSON never starts with it.
const resetMark = 0x01

// readyMark starts a broker message that is a joiner's SessionReady for its
// host: the host's connection adds the host's own iceServers before
// passing it on (see conn.withICEServers).
const readyMark = 0x02

// closeWait is how long a closing connection waits for the peer's close frame.
const closeWait = 2 * time.Second

// conn is one signaling connection. Its invariants (ARCHITECTURE.md):
//   - at most one reader goroutine at a time, none while parked (idle, on
//     Linux: park_linux.go); it alone handles messages, joins and leaves;
//   - at most one writer goroutine, started when a frame is queued and ended
//     when the queue is empty, so an idle connection holds no writer;
//   - enqueueing never blocks: the queue is bounded in bytes, and a peer
//     that lets it overflow, or whose writer makes no progress for
//     WriteTimeout, is closed (slow_reader); hence the hub never blocks on
//     a peer;
//   - the reader closes the net.Conn, after the writer has finished.
type conn struct {
	srv *Server
	nc  net.Conn
	rd  lazyread.Reader // reads nc; holds a buffer only while bytes are buffered
	raw syscall.RawConn // nc's socket, for parking and direct writes; nil when nc has none (TLS)
	// parked: the connection is idle with no reader goroutine (park_linux.go).
	parked atomic.Bool
	fd     int32 // the socket's descriptor for parking; -1: cannot park; 0: not known yet

	m     atomic.Pointer[membership] // nil when not joined; set by the reader
	reset atomic.Bool                // the session was reset elsewhere; the reader drops m
	gate  atomic.Pointer[gate]       // set while joining: deliveries wait in it
	// stale is a membership dropped on a reset, kept by the reader until
	// its next message: a rejoin as the same peer reuses its subscription
	// rather than unsubscribing and subscribing the same topic again,
	// which a remote broker may briefly leave unsubscribed in between.
	stale     *membership
	joinTimer *time.Timer
	probe     atomic.Pointer[prober] // host liveness (probe.go); made on first use
	checked   bool                   // the reader's: this connection sent its one HostCheck

	// Rate limiter (token bucket) and flood meter; the reader's own.
	tokens float32 // messages that may be sent now
	debt   float32 // messages refused, draining at the rate; past the burst it is a flood
	last   int64   // when tokens were counted (Server.clock)
	tellAt int64   // when rate_limited may be sent again (Server.clock)
	stop   bool    // the reader stops: the connection is closing for what it read

	seen   atomic.Uint32 // the keepalive sweep's tick when a frame was last read
	pinged uint32        // the sweep's tick when it last pinged; the sweep's own

	mu         sync.Mutex
	wroteAt    int64 // Server.clock of the last direct write (enqueue)
	queue      []wsFrame
	queued     int   // payload bytes queued or being written: at most SendQueueBytes
	pongAt     int32 // 1 + the index in queue of the one pong waiting there; 0: none
	writing    bool  // a writer goroutine is running
	closing    bool  // no more frames are queued; the writer ends with the close frame
	closeSent  bool
	writeError bool
	slow       bool          // closed as a slow reader: the writer has until the deadline set then
	idle       chan struct{} // closed when the writer stops, if someone waits
	closeBody  []byte
}

// wsFrame is one WebSocket frame (RFC 6455) waiting to be written. In the
// rest of the project "frame" means the <p2p-frame> element and its config.
type wsFrame struct {
	op ws.OpCode
	p  []byte
}

// membership is a connection's place in a session. It is immutable once
// published in conn.m.
type membership struct {
	session     SessionID
	peer        PeerID
	quotedPeer  []byte // peer as a JSON string, stamped on routed messages
	host        PeerID // the host when this peer joined
	unsubscribe func()
	expiry      *time.Timer
	expires     int64           // the token's expiry, Unix seconds (for ICE credentials)
	configICE   json.RawMessage // the frame config's ice_servers, a JSON array, or nil
	successor   PeerID          // host: the successor the store has from its reports (connection goroutine only)
}

func newConn(s *Server, nc net.Conn) *conn {
	c := &conn{srv: s, nc: nc, raw: rawConn(nc), tokens: float32(s.o.RateBurst), last: s.clock()}
	c.seen.Store(s.tick.Load())
	c.rd = lazyread.Reader{R: nc, Conn: nc, Idle: idleMove, Raw: c.raw}
	c.joinTimer = time.AfterFunc(s.o.JoinTimeout, func() {
		if c.m.Load() == nil {
			c.closeWith(ws.StatusPolicyViolation, protocol.CodeJoinTimeout, "no SessionJoin in time")
		}
	})
	return c
}

// readLoop reads frames until the connection ends. Control frames are
// answered here; each complete data message is handled in turn.
func (c *conn) readLoop() {
	moved := false // the connection moved to a fresh goroutine
	defer func() {
		if moved {
			if !c.park() {
				go c.readLoop()
			}
			return
		}
		c.rd.Release()
		c.finish()
	}()
	limit := int64(c.srv.o.MaxMessageBytes)
	var msg []byte      // the message being assembled from fragments
	var msgOp ws.OpCode // its opcode; 0 between messages
	handled := false    // this goroutine has handled a message: its stack may have grown
	for {
		// Between messages, a goroutine that has handled one waits at most
		// idleMove; then the connection moves to a fresh goroutine, which
		// waits on a 2 KiB stack as long as it takes (handling a join grows
		// a stack to 8 KiB, and GC shrinks a parked one only to 4 KiB).
		// A connection that can park (no goroutine at all while idle)
		// waits idleMove at every boundary.
		c.rd.Boundary = msgOp == 0 && (handled || c.canPark())
		h, err := ws.ReadHeader(&c.rd)
		if errors.Is(err, lazyread.ErrIdle) {
			moved = true
			return
		}
		if err != nil {
			return
		}
		if e := c.srv.tick.Load(); c.seen.Load() != e {
			c.seen.Store(e) // the peer is alive (see Server.pingLoop)
		}
		if why := badFrame(h); why != "" {
			c.closeWith(ws.StatusProtocolError, protocol.CodeBadMessage, why)
			c.drain()
			return
		}
		if h.OpCode.IsControl() {
			p := make([]byte, h.Length) // rare: no buffer kept for it
			if _, err := io.ReadFull(&c.rd, p); err != nil {
				return
			}
			ws.Cipher(p, h.Mask, 0)
			switch h.OpCode {
			case ws.OpPing:
				c.pong(p)
			case ws.OpClose:
				c.answerClose(p)
				return
			}
			if msgOp == 0 && c.rd.Buffered() == 0 && c.canPark() {
				// A lone control frame (most often the pong to the
				// keepalive's ping): park again now, not after idleMove.
				moved = true
				return
			}
			continue
		}
		if (h.OpCode == ws.OpContinuation) != (msgOp != 0) {
			c.closeWith(ws.StatusProtocolError, protocol.CodeBadMessage, "bad fragmentation")
			c.drain()
			return
		}
		if int64(len(msg))+h.Length > limit {
			c.closeWith(ws.StatusMessageTooBig, protocol.CodeTooLarge, "message larger than "+strconv.FormatInt(limit, 10)+" bytes")
			c.drain()
			return
		}
		start := len(msg)
		msg = append(msg, make([]byte, h.Length)...)
		if _, err := io.ReadFull(&c.rd, msg[start:]); err != nil {
			return
		}
		ws.Cipher(msg[start:], h.Mask, 0)
		if h.OpCode != ws.OpContinuation {
			msgOp = h.OpCode
		}
		if !h.Fin {
			continue
		}
		c.handle(msgOp, msg)
		if c.stop {
			c.drain()
			return
		}
		handled = true
		// Drop the buffer: an idle connection keeps none.
		msg, msgOp = nil, 0
	}
}

// badFrame says what breaks RFC 6455 in a client frame's header, if any.
func badFrame(h ws.Header) string {
	switch {
	case !h.Masked:
		return "client frames must be masked"
	case h.Rsv != 0:
		return "reserved bits set: no extension was negotiated"
	case h.OpCode.IsReserved():
		return "reserved opcode " + strconv.Itoa(int(h.OpCode))
	case h.OpCode.IsControl() && (h.Length > 125 || !h.Fin):
		return "bad control frame"
	}
	return ""
}

// answerClose answers the peer's close frame with payload p: the same
// normal closure, or 1002 for a frame RFC 6455 does not allow (a 1-byte
// payload, a code that is reserved or not in use) and 1007 for a reason
// that is not UTF-8. After a close frame no Error message is sent.
func (c *conn) answerClose(p []byte) {
	status := ws.StatusNormalClosure
	if len(p) > 0 {
		code, reason := ws.ParseCloseFrameData(p)
		switch err := ws.CheckCloseFrameData(code, reason); {
		case len(p) == 1, code >= 5000:
			status = ws.StatusProtocolError
		case errors.Is(err, ws.ErrProtocolInvalidUTF8):
			status = ws.StatusInvalidFramePayloadData
		case err != nil:
			status = ws.StatusProtocolError
		}
	}
	reason := protocol.Code("")
	if status != ws.StatusNormalClosure {
		reason = protocol.CodeBadMessage
		c.srv.stats.refused(reason)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closing {
		c.startClose(status, reason)
	}
}

// drain discards what the peer still sends after the server closed on a
// protocol violation, until the peer closes or closeWait passes: closing a
// socket with unread input resets it, and the peer would lose the Error and
// close frame queued for it.
func (c *conn) drain() {
	c.nc.SetReadDeadline(time.Now().Add(closeWait))
	io.CopyN(io.Discard, c.nc, 1<<20)
}

// handle acts on one complete message from the peer.
func (c *conn) handle(op ws.OpCode, p []byte) {
	if c.reset.Swap(false) {
		if mb := c.m.Swap(nil); mb != nil {
			c.srv.stats.member(mb, -1)
			mb.expiry.Stop()
			c.dropStale()
			c.stale = mb
		}
	}
	if !c.admit() {
		return
	}
	if op != ws.OpText || !utf8.Valid(p) {
		c.fail(protocol.CodeBadMessage, "messages are UTF-8 text frames")
		return
	}
	m, err := protocol.DecodeClient(p)
	if err != nil {
		var de *protocol.CodeError
		if errors.As(err, &de) {
			c.fail(de.Code, de.Text)
		}
		return
	}
	if m.State != protocol.SessionJoin {
		c.dropStale()
	}
	switch m.State {
	case protocol.SessionJoin:
		c.join(m.Token)
	case protocol.SdpOffer, protocol.SdpAnswer, protocol.IceCandidate:
		c.route(m)
	case protocol.SessionLeave:
		mb := c.m.Swap(nil)
		if mb == nil {
			c.fail(protocol.CodeNotJoined, "join a session first")
			return
		}
		c.srv.stats.member(mb, -1)
		c.leave(mb, true)
	case protocol.PeerLeft:
		c.forget(m.PeerID)
	case protocol.PeerStates:
		c.reportStates(m)
	case protocol.HostUnreachable:
		c.reportUnreachable(m.HostPeerID)
	case protocol.HostAlive:
		c.hostAlive()
	case protocol.HostCheck:
		c.checkHost(m.Token, m.HostPeerID)
	}
}

func (c *conn) join(tok string) { c.joinToken(tok, true) }

// verify checks tok, or fails the connection with token_expired or
// bad_token (logged as refused, never the token) and reports false.
func (c *conn) verify(tok, refused string) (token.Claims, bool) {
	cl, err := token.Verify(c.srv.o.Secret, tok, time.Now())
	switch {
	case errors.Is(err, token.ErrExpired):
		c.srv.log.Info(refused, "code", protocol.CodeTokenExpired)
		c.fail(protocol.CodeTokenExpired, "the token has expired")
		return cl, false
	case err != nil:
		c.srv.log.Info(refused, "code", protocol.CodeBadToken)
		c.fail(protocol.CodeBadToken, "the token is not valid")
		return cl, false
	}
	return cl, true
}

// joinToken joins with tok; mayRetry allows one more try after a stale
// presence of the same peer was released (see releaseStale).
func (c *conn) joinToken(tok string, mayRetry bool) {
	s := c.srv
	if c.m.Load() != nil {
		c.fail(protocol.CodeAlreadyJoined, "this connection has joined a session already")
		return
	}
	cl, ok := c.verify(tok, "join refused")
	if !ok {
		return
	}
	ctx, cancel := s.storeContext()
	defer cancel()
	switch code, err := s.refusedJoin(ctx, cl.Session, cl.Peer); {
	case err != nil:
		s.log.Error("store refused", "session", cl.Session, "peer", cl.Peer, "err", err)
		c.fail(protocol.CodeUnavailable, "the session store failed; try again")
		return
	case code != "":
		s.log.Info("join refused", "session", cl.Session, "peer", cl.Peer, "code", code)
		c.fail(code, "removed by the server's operator")
		return
	}
	// Subscribe before joining: once the store has the peer, others may
	// publish to it (the host hears of joiners at once). Deliveries wait
	// in the gate until the peer's own SessionReady is queued.
	g := &gate{}
	c.gate.Store(g)
	var unsubscribe func()
	var err error
	if st := c.stale; st != nil && st.session == cl.Session && st.peer == cl.Peer {
		c.stale, unsubscribe = nil, st.unsubscribe
	} else {
		c.dropStale()
		unsubscribe, err = s.broker.Subscribe(ctx, PeerTopic(cl.Session, cl.Peer), c.deliver)
		if err != nil {
			g.discard(c)
			s.log.Error("broker subscribe", "session", cl.Session, "peer", cl.Peer, "err", err)
			c.fail(protocol.CodeUnavailable, "the message broker failed; try again")
			return
		}
	}
	host, err := s.store.Join(ctx, cl.Session, cl.Peer, JoinOptions{
		MaxPeers: s.o.MaxPeers, Lease: s.o.Lease, Expires: cl.ExpiresAt(),
	})
	if err != nil {
		// What the gate holds is for the peer id's other connection, if any.
		unsubscribe()
		g.discard(c)
	}
	switch {
	case errors.Is(err, ErrPeerConnected):
		s.log.Info("join refused", "session", cl.Session, "peer", cl.Peer, "code", protocol.CodePeerConnected)
		if mayRetry && s.releaseStale(ctx, cl.Session, cl.Peer) {
			c.joinToken(tok, false)
			return
		}
		c.fail(protocol.CodePeerConnected, "peer "+string(protocol.Quote(string(cl.Peer)))+" is connected already")
		return
	case errors.Is(err, ErrSessionFull):
		s.log.Info("join refused", "session", cl.Session, "peer", cl.Peer, "code", protocol.CodeSessionFull)
		c.fail(protocol.CodeSessionFull, "the session is full")
		return
	case errors.Is(err, ErrSuccessorPending):
		s.log.Info("join refused", "session", cl.Session, "peer", cl.Peer, "code", protocol.CodeSuccessorPending)
		c.fail(protocol.CodeSuccessorPending, "the host left; the session waits for the successor it named")
		return
	case err != nil:
		s.log.Error("store join", "session", cl.Session, "peer", cl.Peer, "err", err)
		c.fail(protocol.CodeUnavailable, "the session store failed; try again")
		return
	}
	mb := &membership{
		session: cl.Session, peer: cl.Peer, quotedPeer: protocol.Quote(string(cl.Peer)),
		host: host, unsubscribe: unsubscribe, expires: cl.Expires, configICE: configICE(cl.Config),
	}
	mb.expiry = time.AfterFunc(time.Until(cl.ExpiresAt()), func() {
		c.closeWith(ws.StatusNormalClosure, protocol.CodeSessionExpired, "the session has expired")
	})
	c.m.Store(mb)
	s.stats.member(mb, 1)
	if c.joinTimer != nil {
		c.joinTimer.Stop()
		c.joinTimer = nil // an idle joined connection keeps one timer only
	}
	s.stats.joins.Add(1)
	s.log.Info("peer joined", "session", cl.Session, "peer", cl.Peer, "host", host)
	if host == cl.Peer {
		s.hostStarts(ctx, cl.Session, host)
	}
	s.emit(EventPeerJoined, cl.Session, cl.Peer, host)
	if host == cl.Peer {
		s.stats.hosts.Add(1)
	}
	c.send(protocol.Encode(&protocol.Message{
		State: protocol.SessionReady, SessionID: cl.Session, PeerID: cl.Peer, HostPeerID: host, Config: cl.Config,
		ICEServers: s.iceServers(mb),
	}))
	g.open(c)
	if host != cl.Peer {
		ready := append([]byte{readyMark}, protocol.Encode(&protocol.Message{
			State: protocol.SessionReady, SessionID: cl.Session, PeerID: cl.Peer, HostPeerID: host,
		})...)
		n, err := s.broker.Publish(ctx, PeerTopic(cl.Session, host), ready)
		switch {
		case err != nil:
			s.log.Error("broker publish", "session", cl.Session, "err", err)
		case n == 0: // the store has a host that no node serves: its node died
			s.resetHost(ctx, cl.Session, host, "no node serves it")
		}
	}
}

// route forwards an SdpOffer, SdpAnswer or IceCandidate to its one target in
// the sender's session, stamped with the sender.
func (c *conn) route(m *protocol.Message) {
	mb := c.m.Load()
	if mb == nil {
		c.fail(protocol.CodeNotJoined, "join a session first")
		return
	}
	if m.To == mb.peer {
		c.fail(protocol.CodeBadMessage, "to names the sender")
		return
	}
	out := make([]byte, 0, len(m.Data)+len(mb.quotedPeer)+len(m.To)+64)
	out = protocol.AppendRouted(out, m.State, mb.quotedPeer, m.To, m.Data)
	n, err := c.srv.broker.Publish(c.srv.publishContext(), PeerTopic(mb.session, m.To), out)
	switch {
	case err != nil:
		c.srv.log.Error("broker publish", "session", mb.session, "err", err)
		c.fail(protocol.CodeUnavailable, "the message broker failed; try again")
	case n == 0:
		c.fail(protocol.CodePeerNotFound, "no peer "+string(protocol.Quote(string(m.To)))+" is connected in this session")
	default:
		c.srv.stats.relayed.Add(1)
		c.srv.stats.relayedBytes.Add(int64(len(out)))
	}
}

// hostMembership returns the membership of a host's connection, or fails
// the connection (not_joined, or not_host with why) and returns nil.
func (c *conn) hostMembership(why string) *membership {
	mb := c.m.Load()
	switch {
	case mb == nil:
		c.fail(protocol.CodeNotJoined, "join a session first")
		return nil
	case mb.host != mb.peer:
		c.fail(protocol.CodeNotHost, why)
		return nil
	}
	return mb
}

// forget handles the host's report that peer p left for good.
func (c *conn) forget(p PeerID) {
	mb := c.hostMembership("only the host reports peers that left")
	switch {
	case mb == nil:
		return
	case p == mb.peer:
		c.fail(protocol.CodeBadMessage, "the host leaves with SessionLeave")
		return
	}
	ctx, cancel := c.srv.storeContext()
	defer cancel()
	if _, err := c.srv.store.Leave(ctx, mb.session, p, true); err != nil {
		c.srv.log.Error("store leave", "session", mb.session, "peer", p, "err", err)
		c.fail(protocol.CodeUnavailable, "the session store failed; try again")
		return
	}
	c.srv.log.Info("peer left", "session", mb.session, "peer", p, "reported_by_host", mb.peer)
	c.srv.emit(EventPeerLeft, mb.session, p, mb.peer)
}

// leave ends mb, which the caller has taken out of c.m: in the store, and
// for the peers who must be told. forget makes the peer stop being a member.
func (c *conn) leave(mb *membership, forget bool) {
	s := c.srv
	mb.release()
	ctx, cancel := s.storeContext()
	defer cancel()
	d, err := s.store.Leave(ctx, mb.session, mb.peer, forget)
	if err != nil {
		s.log.Error("store leave", "session", mb.session, "peer", mb.peer, "err", err)
		return
	}
	s.log.Info("peer left", "session", mb.session, "peer", mb.peer, "was_host", d.WasHost, "for_good", forget)
	if forget {
		s.emit(EventPeerLeft, mb.session, mb.peer, mb.host)
	} else {
		s.emit(EventPeerDisconnected, mb.session, mb.peer, mb.host)
	}
	if d.WasHost {
		s.dropPresence(mb.session, mb.peer)
		s.sessionEnded(ctx, mb.session, mb.peer)
	}
	switch {
	case d.WasHost:
		s.hostLeft(ctx, mb.session, mb.peer, d.Connected)
	case forget:
		left := protocol.Encode(&protocol.Message{State: protocol.PeerLeft, SessionID: mb.session, PeerID: mb.peer})
		if _, err := s.broker.Publish(ctx, PeerTopic(mb.session, mb.host), left); err != nil {
			s.log.Error("broker publish", "session", mb.session, "err", err)
		}
	}
}

// dropStale releases the stale membership's subscription, if any.
func (c *conn) dropStale() {
	if c.stale != nil {
		c.stale.release()
		c.stale = nil
	}
}

func (mb *membership) release() {
	mb.unsubscribe()
	if mb.expiry != nil {
		mb.expiry.Stop()
	}
}

// refresh renews the connection's presence lease (from the server's
// refresher). A lost membership means the session was reset without this
// connection being told (its host's node died): tell it now.
func (c *conn) refresh() {
	mb := c.leased()
	if mb == nil {
		return
	}
	ctx, cancel := context.WithTimeout(c.srv.refreshCtx, c.srv.o.StoreTimeout)
	defer cancel()
	c.refreshed(mb, c.srv.store.Refresh(ctx, mb.session, mb.peer, c.srv.o.Lease))
}

// leased returns the membership whose lease the refresher renews, or nil:
// not joined, or told already that the session was reset.
func (c *conn) leased() *membership {
	mb := c.m.Load()
	if mb == nil || c.reset.Load() {
		return nil
	}
	return mb
}

// refreshed acts on the outcome of renewing mb's lease.
func (c *conn) refreshed(mb *membership, err error) {
	if errors.Is(err, ErrNotMember) && c.m.Load() == mb {
		c.reset.Store(true)
		c.send(protocol.Encode(&protocol.Message{State: protocol.HostLeft, SessionID: mb.session, HostPeerID: mb.host}))
	} else if err != nil {
		c.srv.log.Warn("store refresh", "session", mb.session, "peer", mb.peer, "err", err)
	}
}

// deliver is the broker's callback for the connection's topic.
func (c *conn) deliver(msg []byte) {
	if g := c.gate.Load(); g != nil && g.hold(c, msg) {
		return
	}
	c.accept(msg)
}

// accept passes on a delivered message.
func (c *conn) accept(msg []byte) {
	if len(msg) > 0 && msg[0] == probeMark { // for the connection, not its peer (probe.go)
		c.probeHost(msg[1:])
		return
	}
	if len(msg) == 1 { // a mark alone is for the connection too: presenceMark, or admin.go's
		c.closeByOperator(msg[0])
		return
	}
	if len(msg) > 0 && msg[0] == resetMark {
		c.reset.Store(true)
		msg = msg[1:]
	}
	if len(msg) > 0 && msg[0] == readyMark {
		msg = c.withICEServers(msg[1:])
	}
	c.send(msg)
}

// withICEServers adds the host's own iceServers to a joiner's SessionReady
// (a JSON object): fresh credentials for the host's link to that joiner.
func (c *conn) withICEServers(msg []byte) []byte {
	mb := c.m.Load()
	if mb == nil || len(msg) < 2 || msg[len(msg)-1] != '}' {
		return msg
	}
	ice := c.srv.iceServers(mb)
	out := make([]byte, 0, len(msg)+len(ice)+16)
	out = append(out, msg[:len(msg)-1]...)
	out = append(out, `,"iceServers":`...)
	out = append(out, ice...)
	return append(out, '}')
}

// admit takes a token from the connection's rate limiter, and reports
// whether the message may pass. Over the rate, messages are dropped and
// answered rate_limited at most once a second; refused messages add to a
// debt that drains at the rate, and a connection whose debt passes the burst
// (one that keeps sending at over twice the rate) is closed: flood.
func (c *conn) admit() bool {
	rate := c.srv.o.RateLimit
	if rate < 0 {
		return true
	}
	burst := float32(c.srv.o.RateBurst)
	now := c.srv.clock()
	refill := float32(float64(now-c.last) / float64(time.Second) * rate)
	c.tokens = min(burst, c.tokens+refill)
	c.debt = max(0, c.debt-refill)
	c.last = now
	if c.tokens >= 1 {
		c.tokens--
		return true
	}
	c.srv.stats.rateLimited.Add(1)
	if c.debt++; c.debt > burst {
		c.srv.stats.flood.Add(1)
		c.closeWith(ws.StatusPolicyViolation, protocol.CodeFlood, "the connection kept sending over the rate limit")
		c.stop = true
		return false
	}
	if now >= c.tellAt {
		c.tellAt = now + int64(time.Second)
		c.fail(protocol.CodeRateLimited, "too many messages: this one, and those over the rate in the next second, are dropped")
	}
	return false
}

// fail answers a refused input with an Error message; the connection stays.
func (c *conn) fail(code protocol.Code, text string) {
	c.srv.stats.refused(code)
	c.send(protocol.ErrorMessage(code, text))
}

func (c *conn) send(msg []byte) { c.enqueue(wsFrame{ws.OpText, msg}) }

// enqueue queues f for the writer without blocking. A queue that would pass
// SendQueueBytes means the peer reads slower than it is sent to: it is
// closed as a slow reader.
func (c *conn) enqueue(f wsFrame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if c.queued+len(f.p) > c.srv.o.SendQueueBytes {
		c.slowClose()
		return
	}
	if now := c.srv.clock(); !c.writing && len(c.queue) == 0 && !c.writeError && now-c.wroteAt >= directGap {
		// A frame alone (nothing written for directGap): write it from here.
		// Within a burst, frames go to the writer, which batches them.
		c.wroteAt = now
		if n, ok := c.writeNow(f); ok {
			hl := headerLen(len(f.p))
			switch {
			case n == hl+len(f.p):
				return // written: no writer needed
			case n >= hl:
				f = wsFrame{opRaw, f.p[n-hl:]}
			case n > 0:
				var hdr [10]byte
				f = wsFrame{opRaw, append(appendHeader(hdr[:0], f.op, len(f.p))[n:], f.p...)}
			}
		}
	}
	c.queue = append(c.queue, f)
	c.queued += len(f.p)
	c.kick()
}

// directGap is how long after a direct write the next frame goes through
// the writer instead (see enqueue).
const directGap = int64(time.Millisecond)

// opRaw marks a queued frame whose beginning was written already (see
// enqueue): its bytes are written as they are, with no header.
const opRaw ws.OpCode = 0xff

// pong answers a ping. At most one pong waits in the queue: a later ping
// replaces the payload of the waiting one (RFC 6455 allows answering only
// the latest ping), so pings cannot fill the queue.
func (c *conn) pong(p []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if c.pongAt > 0 {
		f := &c.queue[c.pongAt-1]
		c.queued += len(p) - len(f.p)
		f.p = p
		return
	}
	c.queue = append(c.queue, wsFrame{ws.OpPong, p})
	c.queued += len(p)
	c.pongAt = int32(len(c.queue))
	c.kick()
}

// slowClose closes a peer that does not read (c.mu is held): what waits is
// dropped for an Error slow_reader and the close frame (1008), which the
// writer writes best effort until closeWait from now. The reader is stopped
// at once, so that the peer leaves its session now and messages for it get
// peer_not_found.
func (c *conn) slowClose() {
	c.srv.stats.slow.Add(1)
	c.srv.stats.refused(protocol.CodeSlowReader)
	c.queue = append(c.queue[:0], wsFrame{ws.OpText, protocol.ErrorMessage(protocol.CodeSlowReader, "the connection did not read what was sent to it")})
	c.pongAt = 0
	c.slow = true
	c.startClose(ws.StatusPolicyViolation, protocol.CodeSlowReader)
	c.nc.SetWriteDeadline(time.Now().Add(closeWait))
	closeRead(c.nc)
}

// closeRead ends the reading side of nc, if it can (TCP, also under TLS):
// the reader sees the end of its input, while the writer may still write.
func closeRead(nc net.Conn) {
	for {
		switch x := nc.(type) {
		case interface{ CloseRead() error }:
			x.CloseRead()
			return
		case interface{ NetConn() net.Conn }:
			nc = x.NetConn()
		default:
			return // the writer's close ends the reader
		}
	}
}

// closeWith closes the connection: an Error message with code (unless
// code is empty), then a close frame with status and code as its reason.
func (c *conn) closeWith(status ws.StatusCode, code protocol.Code, text string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closing {
		return
	}
	if code != "" {
		c.srv.stats.refused(code)
		c.queue = append(c.queue, wsFrame{ws.OpText, protocol.ErrorMessage(code, text)})
	}
	c.startClose(status, code)
}

// startClose marks the connection closing; c.mu is held.
func (c *conn) startClose(status ws.StatusCode, code protocol.Code) {
	c.closing = true
	c.closeBody = ws.NewCloseFrameBody(status, string(code))
	c.kick()
	c.unpark() // the reader waits for the peer's close frame
}

// kick starts the writer if it is not running; c.mu is held.
func (c *conn) kick() {
	if c.writing || c.writeError {
		return
	}
	c.writing = true
	c.srv.wg.Add(1)
	go c.writeLoop()
}

// writeLoop writes queued frames, batched into one writev each round, and
// ends when the queue is empty; after the close frame it ends for good.
// A write that makes no progress for WriteTimeout makes the peer a slow
// reader; one that makes progress gets another WriteTimeout.
func (c *conn) writeLoop() {
	defer c.srv.wg.Done()
	var hdrs []byte
	var bufs net.Buffers
	var tail []byte // the rest of a frame a stalled write cut: written first
	written := 0    // payload bytes written, still counted in c.queued
	for {
		c.mu.Lock()
		c.queued -= written
		batch := c.queue
		c.queue, c.pongAt = nil, 0
		if len(batch) == 0 && c.closing && !c.closeSent {
			c.closeSent = true
			batch = []wsFrame{{ws.OpClose, c.closeBody}}
		}
		if len(batch) == 0 {
			c.stopWriting(false)
			c.mu.Unlock()
			return
		}
		if !c.slow {
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.o.WriteTimeout))
		}
		c.mu.Unlock()

		hdrs, bufs, written = hdrs[:0], bufs[:0], 0
		for _, f := range batch {
			if f.op != opRaw {
				hdrs = appendHeader(hdrs, f.op, len(f.p))
			}
			if f.op != ws.OpClose {
				written += len(f.p)
			}
		}
		if tail != nil {
			bufs, tail = append(bufs, tail), nil
		}
		at := 0
		for _, f := range batch {
			n := f.headerLen()
			bufs = append(bufs, hdrs[at:at+n], f.p)
			at += n
		}
		if err := c.flush(&bufs); err != nil {
			c.mu.Lock()
			if errors.Is(err, os.ErrDeadlineExceeded) && !c.slow && !c.closing {
				// Stalled: the peer does not read. Tell it, best effort,
				// after the frame the write cut.
				c.slowClose()
				c.mu.Unlock()
				if len(bufs) > 0 {
					tail = frameTail(bufs, batch)
				}
				continue
			}
			c.closing, c.closeSent, c.queue = true, true, nil
			c.stopWriting(true)
			c.unpark()
			c.mu.Unlock()
			c.nc.Close() // unblocks the reader, which then finishes
			return
		}
		if batch[len(batch)-1].op == ws.OpClose {
			// The peer answers with its close frame, which ends the reader;
			// a peer that never answers is cut after closeWait. (A timer,
			// not a read deadline: the reader sets and clears its own
			// deadlines to move idle connections, see readLoop.)
			time.AfterFunc(closeWait, func() { c.nc.Close() })
		}
	}
}

// flush writes bufs, giving the peer another WriteTimeout whenever a write
// made progress. On error, bufs holds what was not written.
func (c *conn) flush(bufs *net.Buffers) error {
	for {
		n, err := bufs.WriteTo(c.nc)
		if err == nil || n == 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
			return err
		}
		c.mu.Lock()
		slow := c.slow
		if !slow {
			c.nc.SetWriteDeadline(time.Now().Add(c.srv.o.WriteTimeout))
		}
		c.mu.Unlock()
		if slow {
			return err
		}
	}
}

// frameTail returns, as one buffer, the rest of the frame that a write of
// batch stopped in, given rest, what the write left of its buffers (a
// header and a payload per frame of batch, at the end): frames written after
// it then parse. Nil when the write stopped between frames.
func frameTail(rest net.Buffers, batch []wsFrame) []byte {
	i := len(batch) - (len(rest)+1)/2 // the frame the write stopped in
	inHeader := len(rest)%2 == 0
	if inHeader && len(rest[0]) == batch[i].headerLen() {
		return nil // frame i was not begun
	}
	if inHeader {
		return slices.Concat(rest[0], rest[1])
	}
	return slices.Clone(rest[0])
}

// stopWriting records that the writer ended; c.mu is held.
func (c *conn) stopWriting(failed bool) {
	c.writing = false
	c.writeError = c.writeError || failed
	if c.idle != nil {
		close(c.idle)
		c.idle = nil
	}
}

// headerLen is the length of f's header as the writer writes it: none for
// the rest of a frame begun by a direct write.
func (f wsFrame) headerLen() int {
	if f.op == opRaw {
		return 0
	}
	return headerLen(len(f.p))
}

func headerLen(n int) int {
	switch {
	case n < 126:
		return 2
	case n <= 0xffff:
		return 4
	}
	return 10
}

// appendHeader appends an unmasked, final frame header (server to client).
func appendHeader(b []byte, op ws.OpCode, n int) []byte {
	b = append(b, 0x80|byte(op))
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	}
	return append(b, 127, byte(n>>56), byte(n>>48), byte(n>>40), byte(n>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// keepalive is the ping sweep's visit at tick e (see Server.pingLoop): a
// connection heard from since the last sweep is left alone; one silent since
// it was pinged at the last sweep is dead; another silent one is pinged.
func (c *conn) keepalive(e uint32) {
	switch seen := c.seen.Load(); {
	case seen+1 >= e:
	case c.pinged+1 == e:
		c.closeDead()
	default:
		c.pinged = e
		c.enqueue(wsFrame{ws.OpPing, nil})
	}
}

// closeDead ends a connection whose peer is gone without a word (no pong
// in time): the socket is closed at once, so that the peer leaves its
// session now (a host's clients get HostLeft). Safe from any goroutine.
func (c *conn) closeDead() {
	c.mu.Lock()
	first := !c.closing
	c.closing = true
	c.unpark() // a parked connection's reader must see the end
	c.mu.Unlock()
	if first {
		c.srv.stats.dead.Add(1)
	}
	c.nc.Close()
}

// finish ends the connection (the reader's last act): it leaves the session,
// lets the writer flush what is queued and the close frame, and closes.
func (c *conn) finish() {
	if c.joinTimer != nil {
		c.joinTimer.Stop()
	}
	c.dropStale()
	var waiting []string // HostChecks waiting for a probe of this host (probe.go)
	if c.probe.Load() != nil {
		waiting = c.endProbe(false)
	}
	mb := c.m.Swap(nil)
	if mb != nil {
		c.srv.stats.member(mb, -1)
		if c.reset.Load() {
			mb.release() // the session is gone already
		} else {
			c.leave(mb, false)
		}
	}
	for _, r := range waiting {
		c.srv.answerCheck(r, false)
	}
	c.closeWith(ws.StatusNormalClosure, "", "")
	c.mu.Lock()
	var idle chan struct{}
	if c.writing {
		c.idle = make(chan struct{})
		idle = c.idle
	}
	c.mu.Unlock()
	if idle != nil {
		<-idle // bounded by WriteTimeout
	}
	c.unregister()
	c.nc.Close()
	c.srv.remove(c)
	c.logClosed(mb)
	c.srv.wg.Done()
}

// logClosed logs the connection's end: at info level when it was closed
// with an error code (slow_reader, rate limits, timeouts...), else debug.
func (c *conn) logClosed(mb *membership) {
	c.mu.Lock()
	var code string
	if len(c.closeBody) > 2 {
		code = string(c.closeBody[2:]) // after the status: the protocol code
	}
	c.mu.Unlock()
	level := slog.LevelDebug
	if code != "" {
		level = slog.LevelInfo
	}
	if !c.srv.log.Enabled(context.Background(), level) {
		return
	}
	attrs := []any{"code", code}
	if mb != nil {
		attrs = append(attrs, "session", mb.session, "peer", mb.peer)
	}
	c.srv.log.Log(context.Background(), level, "connection closed", attrs...)
}

func (s *Server) storeContext() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), s.o.StoreTimeout)
}

// gate holds the messages delivered to a joining connection until its own
// SessionReady is queued, then passes them on in order. Deliveries that come
// after it opened go straight through.
type gate struct {
	mu    sync.Mutex
	done  bool
	held  [][]byte
	bytes int // in held: bounded by SendQueueBytes, as the queue is
}

// hold keeps msg if the gate is still closed, and reports whether it did.
// Past the queue's bound the joiner is closed as a slow reader, as it would
// be in its queue: nothing is dropped without a word.
func (g *gate) hold(c *conn, msg []byte) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.done {
		return false
	}
	if g.bytes += len(msg); g.bytes > c.srv.o.SendQueueBytes {
		g.held = nil
		c.mu.Lock()
		if !c.closing {
			c.slowClose()
		}
		c.mu.Unlock()
		return true
	}
	g.held = append(g.held, msg)
	return true
}

// open passes on what the gate holds and lets later deliveries through.
func (g *gate) open(c *conn) {
	g.mu.Lock()
	for _, m := range g.held {
		c.accept(m)
	}
	g.done, g.held = true, nil
	g.mu.Unlock()
	c.gate.CompareAndSwap(g, nil)
}

// discard drops what the gate holds: the join failed.
func (g *gate) discard(c *conn) {
	g.mu.Lock()
	g.done, g.held = true, nil
	g.mu.Unlock()
	c.gate.CompareAndSwap(g, nil)
}

// idleMove is how long a reader that has handled a message waits before the
// connection moves to a fresh goroutine (see readLoop).
const idleMove = time.Second
