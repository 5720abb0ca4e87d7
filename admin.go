package p2pstreams

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// maxRemoved bounds the removals remembered; past it the oldest go first.
const maxRemoved = 100000

// ErrNoSession is returned by RemovePeer and CloseSession for a session
// that has no member connected to this server.
var ErrNoSession = errors.New("p2pstreams: no such session on this server")

// SessionInfo is one session hosted on this server, for operators.
type SessionInfo struct {
	ID   SessionID `json:"id"`
	Host PeerID    `json:"host"`
	// Peers are the host's reported links (PeerStates), the host itself
	// included, and the members connected here over a WebSocket.
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
	// Signaling: the peer holds a WebSocket to this server.
	Signaling bool `json:"signaling"`
}

// Sessions lists the sessions whose host is connected to this server, by
// id, each with its peers by id. A client that closed its WebSocket once
// connected is listed from its host's report (see PeerStates in
// PROTOCOL.md), with the state of its link.
func (s *Server) Sessions() []SessionInfo {
	type acc struct {
		hosted bool
		info   SessionInfo
		ws     map[PeerID]bool
	}
	by := map[SessionID]*acc{}
	for _, c := range s.snapshot() {
		mb := c.m.Load()
		if mb == nil || c.reset.Load() {
			continue
		}
		a := by[mb.session]
		if a == nil {
			a = &acc{info: SessionInfo{ID: mb.session, Host: mb.host}, ws: map[PeerID]bool{}}
			by[mb.session] = a
		}
		a.ws[mb.peer] = true
		if mb.host == mb.peer {
			a.hosted, a.info.Host = true, mb.peer
		}
	}
	out := make([]SessionInfo, 0, len(by))
	s.presMu.Lock()
	for id, a := range by {
		if !a.hosted {
			continue
		}
		states := map[PeerID]string{}
		if p := s.presence[id]; p != nil && p.host == a.info.Host {
			a.info.Reported = p.at
			for peer, st := range p.states {
				states[peer] = st
			}
		}
		for peer := range a.ws {
			if _, ok := states[peer]; !ok {
				states[peer] = "joined"
			}
		}
		for peer, st := range states {
			a.info.Peers = append(a.info.Peers, PeerInfo{ID: peer, State: st, Signaling: a.ws[peer]})
		}
		slices.SortFunc(a.info.Peers, func(x, y PeerInfo) int { return strings.Compare(string(x.ID), string(y.ID)) })
		out = append(out, a.info)
	}
	s.presMu.Unlock()
	slices.SortFunc(out, func(x, y SessionInfo) int { return strings.Compare(string(x.ID), string(y.ID)) })
	return out
}

// RemovePeer removes peer from session: its joins are refused
// (peer_removed) for Options.RemovedFor, its place in the session is
// freed, its WebSocket to this server (if any) is closed with
// peer_removed, and its host is sent PeerLeft, so that it drops its link
// and tells every other peer. Removing the host closes its connection,
// which ends the session as when a host leaves. The session's host (or
// peer) must be connected to this server (ErrNoSession otherwise).
func (s *Server) RemovePeer(ctx context.Context, session SessionID, peer PeerID) error {
	if err := checkIDs(session, peer); err != nil {
		return err
	}
	host, found := s.hostOf(session, peer)
	if !found {
		return ErrNoSession
	}
	s.refuse(session, peer)
	const text = "removed by the server's operator"
	for _, c := range s.snapshot() {
		c.closeFor(session, peer, protocol.CodePeerRemoved, text)
	}
	if peer != host {
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
	s.emit(EventPeerRemoved, session, peer, host)
	return nil
}

// CloseSession ends session: its joins are refused (session_closed) for
// Options.RemovedFor, and every connection to it on this server is closed
// with session_closed; the host's going resets the session, so members on
// other servers are told HostLeft. ErrNoSession when no member is
// connected here.
func (s *Server) CloseSession(ctx context.Context, session SessionID) error {
	if err := checkIDs(session, ""); err != nil {
		return err
	}
	if _, found := s.hostOf(session, ""); !found {
		return ErrNoSession
	}
	s.refuse(session, "")
	for _, c := range s.snapshot() {
		c.closeFor(session, "", protocol.CodeSessionClosed, "the session was closed by the server's operator")
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

// hostOf returns the host of session as the members connected here know
// it, and whether any member (or peer, if given, as a reported link) is.
func (s *Server) hostOf(session SessionID, peer PeerID) (PeerID, bool) {
	for _, c := range s.snapshot() {
		if mb := c.m.Load(); mb != nil && mb.session == session && !c.reset.Load() {
			return mb.host, true
		}
	}
	s.presMu.Lock()
	defer s.presMu.Unlock()
	if p := s.presence[session]; p != nil {
		_, ok := p.states[peer]
		return p.host, ok || peer == ""
	}
	return "", false
}

// refuse records that joins of (session, peer) are refused; peer "" means
// the whole session.
func (s *Server) refuse(session SessionID, peer PeerID) {
	now := time.Now()
	s.presMu.Lock()
	defer s.presMu.Unlock()
	if s.removed == nil {
		s.removed = make(map[string]time.Time)
	}
	if len(s.removed) >= maxRemoved {
		for k, until := range s.removed {
			if until.Before(now) || len(s.removed) >= maxRemoved {
				delete(s.removed, k)
			}
		}
	}
	s.removed[PeerTopic(session, peer)] = now.Add(s.o.RemovedFor)
}

// refusedJoin returns the code that refuses a join of (session, peer), or "".
func (s *Server) refusedJoin(session SessionID, peer PeerID) protocol.Code {
	s.presMu.Lock()
	defer s.presMu.Unlock()
	if len(s.removed) == 0 {
		return ""
	}
	now := time.Now()
	if until, ok := s.removed[PeerTopic(session, "")]; ok && now.Before(until) {
		return protocol.CodeSessionClosed
	}
	if until, ok := s.removed[PeerTopic(session, peer)]; ok && now.Before(until) {
		return protocol.CodePeerRemoved
	}
	return ""
}
