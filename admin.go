package p2pstreams

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gobwas/ws"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// maxListed bounds the sessions that Sessions lists.
const maxListed = 10000

// ErrNoSession is returned by RemovePeer and CloseSession for a session
// that has no connected host (with a Store that is no Directory: no member
// connected to this server).
var ErrNoSession = errors.New("p2pstreams: no such session")

// SessionInfo is one live session, for operators.
type SessionInfo struct {
	ID   SessionID `json:"id"`
	Host PeerID    `json:"host"`
	// Peers are the host's reported links (PeerStates), the host itself
	// included, and the members that hold a WebSocket.
	Peers []PeerInfo `json:"peers"`
	// Reported is when the host last reported its links; zero if never.
	Reported time.Time `json:"reported,omitzero"`
}

// PeerInfo is one member of a session.
type PeerInfo struct {
	ID PeerID `json:"id"`
	// State is the host's link to it as last reported ("connected"...),
	// or "joined" for a member the host has not reported yet.
	State string `json:"state"`
	// Signaling: the peer holds a WebSocket to a server node (to this
	// one, with a Store that is no Directory).
	Signaling bool `json:"signaling"`
}

// Sessions lists the live sessions (those with a connected host), by id,
// at most 10000, each with its peers by id. A client that closed its
// WebSocket once connected is listed from its host's report (see
// PeerStates in PROTOCOL.md), with the state of its link. With a Store
// that is a Directory (the memory and Redis stores) it lists the sessions
// of every node; otherwise those whose host is connected to this server.
func (s *Server) Sessions(ctx context.Context) ([]SessionInfo, error) {
	var recs []SessionRecord
	if s.dir != nil {
		var err error
		if recs, err = s.dir.Sessions(ctx, maxListed); err != nil {
			return nil, fmt.Errorf("p2pstreams: sessions: %w", err)
		}
	} else {
		recs = s.localSessions()
	}
	out := make([]SessionInfo, 0, len(recs))
	for _, r := range recs {
		out = append(out, r.info())
	}
	slices.SortFunc(out, func(x, y SessionInfo) int { return strings.Compare(string(x.ID), string(y.ID)) })
	return out, nil
}

// info is r for operators: the reported links, and the connected members
// the host has not reported yet as "joined".
func (r SessionRecord) info() SessionInfo {
	in := SessionInfo{ID: r.ID, Host: r.Host, Reported: r.Reported}
	for p, st := range r.States {
		_, ws := slices.BinarySearch(r.Connected, p)
		in.Peers = append(in.Peers, PeerInfo{ID: p, State: st, Signaling: ws})
	}
	for _, p := range r.Connected {
		if _, ok := r.States[p]; !ok {
			in.Peers = append(in.Peers, PeerInfo{ID: p, State: "joined", Signaling: true})
		}
	}
	slices.SortFunc(in.Peers, func(x, y PeerInfo) int { return strings.Compare(string(x.ID), string(y.ID)) })
	return in
}

// localSessions are the sessions whose host is connected to this server,
// with the members connected here: Sessions without a Directory.
func (s *Server) localSessions() []SessionRecord {
	type acc struct {
		hosted bool
		rec    SessionRecord
	}
	by := map[SessionID]*acc{}
	for _, c := range s.snapshot() {
		mb := c.m.Load()
		if mb == nil || c.reset.Load() {
			continue
		}
		a := by[mb.session]
		if a == nil {
			a = &acc{rec: SessionRecord{ID: mb.session, Host: mb.host}}
			by[mb.session] = a
		}
		a.rec.Connected = append(a.rec.Connected, mb.peer)
		if mb.host == mb.peer {
			a.hosted = true
		}
	}
	out := make([]SessionRecord, 0, len(by))
	s.presMu.Lock()
	defer s.presMu.Unlock()
	for id, a := range by {
		if !a.hosted {
			continue
		}
		if p := s.presence[id]; p != nil && p.host == a.rec.Host {
			a.rec.States, a.rec.Reported = p.states, p.at // never modified: replaced
		}
		slices.Sort(a.rec.Connected)
		out = append(out, a.rec)
	}
	return out
}

// The broker marks of the admin calls: the connection of the peer (or
// member) on whose topic one is published closes with peer_removed (or
// session_closed), on whichever node it is.
const (
	removedMark = 0x05
	closedMark  = 0x06
)

var removedRequest, closedRequest = []byte{removedMark}, []byte{closedMark}

// closeByOperator acts on a removedMark or closedMark delivered to c.
func (c *conn) closeByOperator(mark byte) {
	switch mark {
	case removedMark:
		c.closeWith(ws.StatusPolicyViolation, protocol.CodePeerRemoved, "removed by the server's operator")
	case closedMark:
		c.closeWith(ws.StatusPolicyViolation, protocol.CodeSessionClosed, "the session was closed by the server's operator")
	}
}

// RemovePeer removes peer from session: its joins are refused
// (peer_removed) for Options.RemovedFor, its place in the session is
// freed, its WebSocket (if any) is closed with peer_removed, and its host
// is sent PeerLeft, so that it drops its link and tells every other peer.
// Removing the host closes its connection, which ends the session as when
// a host leaves. With a Store that is a Directory and Refusals (the memory
// and Redis stores), this works from any node, for a peer on any node;
// otherwise the session's host (or peer) must be connected to this server
// and only this server refuses the peer. ErrNoSession when the session is
// not found.
func (s *Server) RemovePeer(ctx context.Context, session SessionID, peer PeerID) error {
	if err := checkIDs(session, peer); err != nil {
		return err
	}
	rec, found, err := s.lookup(ctx, session, peer)
	switch {
	case err != nil:
		return fmt.Errorf("p2pstreams: remove: %w", err)
	case !found:
		return ErrNoSession
	}
	if err := s.refusals.Refuse(ctx, session, peer, s.o.RemovedFor); err != nil {
		return fmt.Errorf("p2pstreams: remove: %w", err)
	}
	if _, err := s.broker.Publish(ctx, PeerTopic(session, peer), removedRequest); err != nil {
		return fmt.Errorf("p2pstreams: remove: close its connection: %w", err)
	}
	if host := rec.Host; peer != host {
		if _, err := s.store.Leave(ctx, session, peer, true); err != nil {
			return fmt.Errorf("p2pstreams: remove: %w", err)
		}
		left := protocol.Encode(&protocol.Message{State: protocol.PeerLeft, SessionID: session, PeerID: peer})
		if _, err := s.broker.Publish(ctx, PeerTopic(session, host), left); err != nil {
			return fmt.Errorf("p2pstreams: remove: tell the host: %w", err)
		}
		s.presMu.Lock()
		if p := s.presence[session]; p != nil { // reports are read unlocked: replace, never modify
			states := maps.Clone(p.states)
			delete(states, peer)
			s.presence[session] = &presence{host: p.host, states: states, at: p.at}
		}
		s.presMu.Unlock()
	}
	s.log.Info("peer removed", "session", session, "peer", peer)
	s.emit(EventPeerRemoved, session, peer, rec.Host)
	return nil
}

// CloseSession ends session: its joins are refused (session_closed) for
// Options.RemovedFor, and every connection to it is closed with
// session_closed; the host's going resets the session, so members that
// still hold a WebSocket are told HostLeft. From any node with a Store
// that is a Directory and Refusals, as RemovePeer. ErrNoSession when the
// session is not found.
func (s *Server) CloseSession(ctx context.Context, session SessionID) error {
	if err := checkIDs(session, ""); err != nil {
		return err
	}
	rec, found, err := s.lookup(ctx, session, "")
	switch {
	case err != nil:
		return fmt.Errorf("p2pstreams: close: %w", err)
	case !found:
		return ErrNoSession
	}
	if err := s.refusals.Refuse(ctx, session, "", s.o.RemovedFor); err != nil {
		return fmt.Errorf("p2pstreams: close: %w", err)
	}
	for _, p := range rec.Connected { // with a Directory: on every node
		if _, err := s.broker.Publish(ctx, PeerTopic(session, p), closedRequest); err != nil {
			return fmt.Errorf("p2pstreams: close: %w", err)
		}
	}
	for _, c := range s.snapshot() { // and here, those joining meanwhile too
		if mb := c.m.Load(); mb != nil && mb.session == session {
			c.closeByOperator(closedMark)
		}
	}
	s.log.Info("session closed", "session", session)
	return nil
}

// ErrBadID is returned for a session or peer id that no token can hold.
var ErrBadID = errors.New("p2pstreams: bad id")

func checkIDs(session SessionID, peer PeerID) error {
	if err := protocol.CheckID(string(session)); err != nil {
		return fmt.Errorf("%w: session: %v", ErrBadID, err)
	}
	if peer != "" {
		if err := protocol.CheckID(string(peer)); err != nil {
			return fmt.Errorf("%w: peer: %v", ErrBadID, err)
		}
	}
	return nil
}

// lookup finds session: in the store when it is a Directory, else among
// the members connected here, or (for peer, if given) the reported links.
func (s *Server) lookup(ctx context.Context, session SessionID, peer PeerID) (SessionRecord, bool, error) {
	if s.dir != nil {
		return s.dir.Session(ctx, session)
	}
	rec := SessionRecord{ID: session}
	found := false
	for _, c := range s.snapshot() {
		if mb := c.m.Load(); mb != nil && mb.session == session && !c.reset.Load() {
			rec.Host, found = mb.host, true
			rec.Connected = append(rec.Connected, mb.peer)
		}
	}
	if found {
		return rec, true, nil
	}
	s.presMu.Lock()
	defer s.presMu.Unlock()
	if p := s.presence[session]; p != nil {
		_, ok := p.states[peer]
		rec.Host = p.host
		return rec, ok || peer == "", nil
	}
	return rec, false, nil
}

// refusedJoin returns the code that refuses a join of (session, peer), or "".
func (s *Server) refusedJoin(ctx context.Context, session SessionID, peer PeerID) (protocol.Code, error) {
	closed, removed, err := s.refusals.Refused(ctx, session, peer)
	switch {
	case err != nil:
		return "", err
	case closed:
		return protocol.CodeSessionClosed, nil
	case removed:
		return protocol.CodePeerRemoved, nil
	}
	return "", nil
}
