package storetest

import (
	"testing"

	"github.com/p2pstreams/p2pstreams"
)

// Membership cases: who joins, who is host, who leaves. Leases and expiries
// here are long; lease.go and expiry.go have the cases where they run out.

func testJoinOrder(t *testing.T, s *suite) {
	sid := s.session("room")
	s.mustHost(sid, "alice", longOpts(0), "alice")
	s.mustHost(sid, "bob", longOpts(0), "alice")
	s.mustHost(sid, "carol", longOpts(0), "alice")
	// A member that rejoins after closing its connection finds the same host.
	s.leave(sid, "bob", false, p2pstreams.Departure{})
	s.mustHost(sid, "bob", longOpts(0), "alice")
}

func testPeerConnected(t *testing.T, s *suite) {
	sid := s.session("room")
	s.mustHost(sid, "alice", longOpts(0), "alice")
	s.mustHost(sid, "bob", longOpts(0), "alice")
	s.joinErr(sid, "alice", longOpts(0), p2pstreams.ErrPeerConnected)
	s.joinErr(sid, "bob", longOpts(0), p2pstreams.ErrPeerConnected)
	// The refused joins changed nothing.
	s.refresh(sid, "alice", long, nil)
	s.refresh(sid, "bob", long, nil)
	s.mustHost(sid, "carol", longOpts(0), "alice")
}

func testSessionFull(t *testing.T, s *suite) {
	sid := s.session("room")
	s.mustHost(sid, "alice", longOpts(2), "alice")
	s.mustHost(sid, "bob", longOpts(2), "alice")
	s.joinErr(sid, "carol", longOpts(2), p2pstreams.ErrSessionFull)
	// A member that comes back is not counted twice.
	s.leave(sid, "bob", false, p2pstreams.Departure{})
	s.mustHost(sid, "bob", longOpts(2), "alice")
	s.joinErr(sid, "carol", longOpts(2), p2pstreams.ErrSessionFull)
	// ErrPeerConnected wins over ErrSessionFull for a connected member.
	s.joinErr(sid, "bob", longOpts(2), p2pstreams.ErrPeerConnected)
	// Forgetting a member frees its place.
	s.leave(sid, "bob", true, p2pstreams.Departure{})
	s.mustHost(sid, "carol", longOpts(2), "alice")
	s.joinErr(sid, "bob", longOpts(2), p2pstreams.ErrSessionFull)
	// MaxPeers is per join: 0 means no bound.
	s.mustHost(sid, "bob", longOpts(0), "alice")
}

func testLeaveKeep(t *testing.T, s *suite) {
	sid := s.session("room")
	s.mustHost(sid, "alice", longOpts(0), "alice")
	s.mustHost(sid, "bob", longOpts(0), "alice")
	s.leave(sid, "bob", false, p2pstreams.Departure{})
	// Bob is no longer connected: no Refresh, and he may join again.
	s.refresh(sid, "bob", long, p2pstreams.ErrNotMember)
	s.leave(sid, "bob", false, p2pstreams.Departure{})
	s.mustHost(sid, "bob", longOpts(0), "alice")
	s.refresh(sid, "bob", long, nil)
	// A member that left without forget is not among the connected.
	s.mustHost(sid, "carol", longOpts(0), "alice")
	s.leave(sid, "carol", false, p2pstreams.Departure{})
	s.leave(sid, "alice", false, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"bob"}})
}

func testLeaveForget(t *testing.T, s *suite) {
	sid := s.session("room")
	s.mustHost(sid, "alice", longOpts(0), "alice")
	s.mustHost(sid, "bob", longOpts(0), "alice")
	s.leave(sid, "bob", true, p2pstreams.Departure{})
	s.refresh(sid, "bob", long, p2pstreams.ErrNotMember)
	// Leaving twice, or after forgetting, is not an error.
	s.leave(sid, "bob", true, p2pstreams.Departure{})
	s.leave(sid, "bob", false, p2pstreams.Departure{})
	s.mustHost(sid, "bob", longOpts(0), "alice")
	s.leave(sid, "alice", true, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"bob"}})
}

func testLeaveUnknown(t *testing.T, s *suite) {
	s.leave(s.session("nowhere"), "alice", false, p2pstreams.Departure{})
	s.leave(s.session("nowhere"), "alice", true, p2pstreams.Departure{})
	s.refresh(s.session("nowhere"), "alice", long, p2pstreams.ErrNotMember)
	sid := s.session("room")
	s.mustHost(sid, "alice", longOpts(0), "alice")
	s.leave(sid, "zed", true, p2pstreams.Departure{})
	s.refresh(sid, "zed", long, p2pstreams.ErrNotMember)
	s.refresh(sid, "alice", long, nil)
}

func testHostLeave(t *testing.T, s *suite) {
	for _, forget := range []bool{false, true} {
		sid := s.session(map[bool]string{false: "close", true: "leave"}[forget])
		s.mustHost(sid, "alice", longOpts(0), "alice")
		s.mustHost(sid, "bob", longOpts(0), "alice")
		s.mustHost(sid, "carol", longOpts(0), "alice")
		s.mustHost(sid, "dave", longOpts(0), "alice")
		s.leave(sid, "dave", false, p2pstreams.Departure{}) // a member, not connected
		s.leave(sid, "alice", forget, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"bob", "carol"}})
		// The session was reset: nobody is a member any more.
		s.refresh(sid, "bob", long, p2pstreams.ErrNotMember)
		s.refresh(sid, "carol", long, p2pstreams.ErrNotMember)
		s.refresh(sid, "alice", long, p2pstreams.ErrNotMember)
		s.leave(sid, "alice", false, p2pstreams.Departure{})
		s.leave(sid, "bob", true, p2pstreams.Departure{})
		// The first to come back is the new host; the old host is a client.
		s.mustHost(sid, "carol", longOpts(2), "carol")
		s.mustHost(sid, "alice", longOpts(2), "carol")
		// dave's old membership is gone too: the session is full without him.
		s.joinErr(sid, "dave", longOpts(2), p2pstreams.ErrSessionFull)
	}
}

func testSeparate(t *testing.T, s *suite) {
	a, b := s.session("a"), s.session("b")
	s.mustHost(a, "alice", longOpts(0), "alice")
	s.mustHost(b, "bob", longOpts(0), "bob")
	s.mustHost(a, "bob", longOpts(0), "alice")
	s.mustHost(b, "alice", longOpts(0), "bob")
	s.leave(a, "alice", true, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"bob"}})
	s.refresh(b, "alice", long, nil)
	s.refresh(b, "bob", long, nil)
	s.joinErr(b, "alice", longOpts(0), p2pstreams.ErrPeerConnected)
	s.mustHost(a, "alice", longOpts(0), "alice")
}
