package p2pstreams

import (
	"context"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// minReportInterval is the least time between two PeerStates of one host;
// a host sends one per change, coalesced, so only a misbehaving one is
// refused (rate_limited).
const minReportInterval = 100 * time.Millisecond

// presence is what the host of a session on this server last reported of
// its links: which peers are connected to it, whether or not they still
// hold a WebSocket. Entries exist only for sessions whose host reports,
// and end with the host's membership. An entry is never modified once in
// Server.presence (it is read after the lock is released): it is replaced.
type presence struct {
	host   PeerID
	states map[PeerID]string
	at     time.Time
}

// reportStates handles a host's PeerStates: it keeps the map for Sessions
// (here, and in the store when it is a Directory), reports peers that
// became connected (EventPeerConnected) and records the successor it names
// in the store. A host speaks only for its own session, the one of its
// membership.
func (c *conn) reportStates(m *protocol.Message) {
	s := c.srv
	mb := c.hostMembership("only the host reports peer states")
	if mb == nil {
		return
	}
	states, _ := protocol.DecodePeerStates(m.Data) // DecodeClient checked it
	if len(states) > s.o.MaxPeers {
		c.fail(protocol.CodeBadMessage, "more peers than a session holds")
		return
	}
	if m.Successor == mb.peer {
		c.fail(protocol.CodeBadMessage, "the host cannot be its own successor")
		return
	}
	now := time.Now()
	s.presMu.Lock()
	old := s.presence[mb.session]
	if old != nil && old.host != mb.peer {
		old = nil // another host's report, from before this one joined
	}
	if old != nil && now.Sub(old.at) < minReportInterval {
		s.presMu.Unlock()
		c.fail(protocol.CodeRateLimited, "PeerStates at most every 100 ms; this one was dropped")
		return
	}
	if s.presence == nil {
		s.presence = make(map[SessionID]*presence)
	}
	s.presence[mb.session] = &presence{host: mb.peer, states: states, at: now}
	s.presMu.Unlock()
	if s.dir != nil { // for Sessions on every node
		ctx, cancel := s.storeContext()
		err := s.dir.Report(ctx, mb.session, mb.peer, states)
		cancel()
		if err != nil {
			s.log.Warn("store report", "session", mb.session, "err", err)
		}
	}
	if m.Successor != mb.successor && s.o.SuccessorWindow > 0 {
		c.setSuccessor(mb, m.Successor)
	}
	for id, st := range states {
		if st == "connected" && id != mb.peer && (old == nil || old.states[id] != "connected") {
			s.emit(EventPeerConnected, mb.session, id, mb.peer)
		}
	}
}

// setSuccessor records in the store the successor that the host's report
// names; only when it changed (a report comes with each change of the
// map). A failure is logged, and the next report tries again.
func (c *conn) setSuccessor(mb *membership, successor PeerID) {
	s := c.srv
	ctx, cancel := s.storeContext()
	defer cancel()
	if err := s.store.SetSuccessor(ctx, mb.session, mb.peer, successor, s.o.SuccessorWindow); err != nil {
		s.log.Warn("store successor", "session", mb.session, "host", mb.peer, "successor", successor, "err", err)
		return
	}
	mb.successor = successor
}

// dropPresence forgets the report of host's session (its membership ended).
func (s *Server) dropPresence(session SessionID, host PeerID) {
	s.presMu.Lock()
	if p := s.presence[session]; p != nil && p.host == host {
		delete(s.presence, session)
	}
	s.presMu.Unlock()
}

// hostStarts forgets a report the store may keep from this session's last
// host, which may have been this same peer (it comes back as host after a
// reset), and reports the session started.
func (s *Server) hostStarts(ctx context.Context, session SessionID, host PeerID) {
	if s.dir != nil {
		if err := s.dir.Report(ctx, session, host, nil); err != nil {
			s.log.Warn("store report", "session", session, "err", err)
		}
	}
	s.sessionStarted(ctx, session, host)
}
