package p2pstreams

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// EventType names what happened, in an Event.
type EventType string

// The events a Server reports through Options.OnEvent. Each is reported
// once in a deployment, by the node where it happened: the one the peer
// is connected to, the host's for what the host reports, the one whose
// admin call it was for EventPeerRemoved (see ARCHITECTURE.md, "Events").
const (
	// EventSessionStarted: Peer joined a session that had no connected
	// host and became its host (a new session, or one whose host had left).
	EventSessionStarted EventType = "session_started"
	// EventHostChanged: Peer became the host of a session whose previous
	// host (Previous) left less than hostChangeWindow ago: a failover. It
	// follows the EventSessionStarted, on the new host's node; the end is
	// recorded in the store (HostChanges), so any node may have seen it.
	EventHostChanged EventType = "host_changed"
	// EventPeerJoined: Peer joined the session (Host is its host; the
	// host's own join is one too, after EventSessionStarted).
	EventPeerJoined EventType = "peer_joined"
	// EventPeerConnected: the host reported (PeerStates) that Peer's link
	// to it is connected.
	EventPeerConnected EventType = "peer_connected"
	// EventPeerDisconnected: Peer's WebSocket ended without leaving. A
	// client does this once connected to its host; it stays a member.
	EventPeerDisconnected EventType = "peer_disconnected"
	// EventPeerLeft: Peer left for good: it sent SessionLeave, or its host
	// reported it gone (PeerLeft).
	EventPeerLeft EventType = "peer_left"
	// EventPeerRemoved: the server's operator removed Peer (RemovePeer).
	EventPeerRemoved EventType = "peer_removed"
	// EventSessionEnded: the host (Peer) left, and the session was reset;
	// its clients were told (HostLeft).
	EventSessionEnded EventType = "session_ended"
)

// Event is one thing that happened in a session.
type Event struct {
	Type    EventType `json:"type"`
	Session SessionID `json:"session_id"`
	Peer    PeerID    `json:"peer_id"`
	Host    PeerID    `json:"host_peer_id,omitempty"` // the session's host, when known
	// Previous is the host before, for EventHostChanged.
	Previous PeerID    `json:"previous_host_peer_id,omitempty"`
	Time     time.Time `json:"time"`
}

// hostChangeWindow is how long after a session ended its next host counts
// as its previous host's successor (EventHostChanged).
const hostChangeWindow = time.Minute

// sessionEnded reports EventSessionEnded and records the session's host
// for a host change (only with OnEvent): in the store when it keeps them
// (HostChanges), so that the node of the next host reports the change.
func (s *Server) sessionEnded(ctx context.Context, session SessionID, host PeerID) {
	if s.events == nil {
		return
	}
	s.emit(EventSessionEnded, session, host, host)
	if err := s.changes.SessionEnded(ctx, session, host, hostChangeWindow); err != nil {
		s.log.Warn("store: record the ended session", "session", session, "err", err)
	}
}

// sessionStarted reports EventSessionStarted, and EventHostChanged when
// the session ended within hostChangeWindow under another host.
func (s *Server) sessionStarted(ctx context.Context, session SessionID, host PeerID) {
	if s.events == nil {
		return
	}
	s.emit(EventSessionStarted, session, host, host)
	prev, err := s.changes.SessionStarted(ctx, session)
	if err != nil {
		s.log.Warn("store: look up the ended session", "session", session, "err", err)
	}
	if prev != "" && prev != host {
		s.emitEvent(Event{Type: EventHostChanged, Session: session, Peer: host, Host: host, Previous: prev})
	}
}

// eventQueue hands events to Options.OnEvent on one goroutine, so that a
// slow callback never blocks a connection: the queue is bounded, and what
// does not fit is dropped and counted (Stats.EventsDropped).
type eventQueue struct {
	ch      chan Event
	done    chan struct{} // closed when the last event was handed over
	dropped atomic.Int64
	close   sync.Once
}

func newEventQueue(size int, deliver func(Event)) *eventQueue {
	q := &eventQueue{ch: make(chan Event, size), done: make(chan struct{})}
	go func() {
		defer close(q.done)
		for e := range q.ch {
			deliver(e)
		}
	}()
	return q
}

// emit queues an event without blocking; without OnEvent it does nothing.
func (s *Server) emit(t EventType, session SessionID, peer, host PeerID) {
	q := s.events
	if q == nil {
		return
	}
	s.emitEvent(Event{Type: t, Session: session, Peer: peer, Host: host})
}

func (s *Server) emitEvent(e Event) {
	q := s.events
	if q == nil {
		return
	}
	e.Time = time.Now()
	select {
	case q.ch <- e:
	default:
		q.dropped.Add(1)
	}
}

// closeEvents ends the queue once no connection can emit any more (every
// reader has finished), and waits until what it held was handed over or
// stop is closed.
func (s *Server) closeEvents(stop <-chan struct{}) {
	if s.events == nil {
		return
	}
	s.events.close.Do(func() { close(s.events.ch) })
	select {
	case <-s.events.done:
	case <-stop:
	}
}

func (s *Server) eventsDropped() int64 {
	if s.events == nil {
		return 0
	}
	return s.events.dropped.Load()
}
