package storetest

import (
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
)

// Expiry cases: a membership ends at JoinOptions.Expires even while its lease
// is renewed, and a session ends with its host's membership or its last one.

func testMemberExpires(t *testing.T, s *suite) {
	sid := s.session("room")
	s.mustHost(sid, "alice", longOpts(2), "alice")
	end := time.Now().Add(short)
	s.mustHost(sid, "bob", opts(long, end, 2), "alice")
	waitPast(end)
	s.refresh(sid, "bob", long, p2pstreams.ErrNotMember)
	// An expired member no longer takes a place.
	s.mustHost(sid, "carol", longOpts(2), "alice")
	s.leave(sid, "alice", true, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"carol"}})
}

func testHostExpires(t *testing.T, s *suite) {
	sid, window, done := s.withinLease("host", func(sid p2pstreams.SessionID, window time.Duration) error {
		if err := s.joinStep(sid, "alice", opts(long, time.Now().Add(window), 0), "alice"); err != nil {
			return err
		}
		return s.joinStep(sid, "bob", longOpts(0), "alice")
	})
	waitPast(done.Add(window))
	s.refresh(sid, "bob", long, p2pstreams.ErrNotMember)
	s.refresh(sid, "alice", long, p2pstreams.ErrNotMember)
	s.mustHost(sid, "carol", longOpts(0), "carol")
}

func testSessionExpires(t *testing.T, s *suite) {
	sid, window, done := s.withinLease("room", func(sid p2pstreams.SessionID, window time.Duration) error {
		end := time.Now().Add(window)
		if err := s.joinStep(sid, "alice", opts(long, end, 2), "alice"); err != nil {
			return err
		}
		return s.joinStep(sid, "bob", opts(long, end, 2), "alice")
	})
	waitPast(done.Add(window))
	s.refresh(sid, "alice", long, p2pstreams.ErrNotMember)
	s.refresh(sid, "bob", long, p2pstreams.ErrNotMember)
	s.leave(sid, "alice", false, p2pstreams.Departure{})
	// Nothing of the old session is left: a new host, and room for two.
	s.mustHost(sid, "carol", longOpts(2), "carol")
	s.mustHost(sid, "bob", longOpts(2), "carol")
	s.joinErr(sid, "alice", longOpts(2), p2pstreams.ErrSessionFull)
}
