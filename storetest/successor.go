package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
)

// Successor cases: a host names the peer that hosts after it (SetSuccessor);
// a reset then waits for that peer for the window, refusing the others.

func (s *suite) setSuccessor(sid p2pstreams.SessionID, host, successor p2pstreams.PeerID, window time.Duration, want error) {
	s.t.Helper()
	err := s.st.SetSuccessor(ctxT(s.t), sid, host, successor, window)
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		s.t.Fatalf("SetSuccessor(%q, %q, %q) = %v, want %v", sid, host, successor, err, want)
	}
}

// threeMembers joins alice (host), bob and carol to a session named name.
func (s *suite) threeMembers(name string) p2pstreams.SessionID {
	s.t.Helper()
	sid := s.session(name)
	s.mustHost(sid, "alice", longOpts(0), "alice")
	s.mustHost(sid, "bob", longOpts(0), "alice")
	s.mustHost(sid, "carol", longOpts(0), "alice")
	return sid
}

// testSuccessorHosts: after the host leaves (closed or for good), only the
// named successor may join, and it hosts; then everyone joins it.
func testSuccessorHosts(t *testing.T, s *suite) {
	for _, forget := range []bool{false, true} {
		sid := s.threeMembers(map[bool]string{false: "close", true: "leave"}[forget])
		s.setSuccessor(sid, "alice", "bob", long, nil)
		s.leave(sid, "alice", forget, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"bob", "carol"}})
		s.refresh(sid, "carol", long, p2pstreams.ErrNotMember)
		s.joinErr(sid, "carol", longOpts(0), p2pstreams.ErrSuccessorPending)
		s.joinErr(sid, "dave", longOpts(0), p2pstreams.ErrSuccessorPending)
		s.mustHost(sid, "bob", longOpts(0), "bob")
		s.mustHost(sid, "carol", longOpts(0), "bob")
		s.mustHost(sid, "alice", longOpts(0), "bob")
	}
}

// testSuccessorOldHostBack: the old host coming back before its successor
// (its signaling connection came back) hosts again.
func testSuccessorOldHostBack(t *testing.T, s *suite) {
	sid := s.threeMembers("back")
	s.setSuccessor(sid, "alice", "bob", long, nil)
	s.leave(sid, "alice", false, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"bob", "carol"}})
	s.mustHost(sid, "alice", longOpts(0), "alice")
	s.mustHost(sid, "carol", longOpts(0), "alice")
	s.mustHost(sid, "bob", longOpts(0), "alice")
}

// testSuccessorNone: without a successor, or with one that cannot be, the
// first peer back hosts, as without successors.
func testSuccessorNone(t *testing.T, s *suite) {
	for _, c := range []struct {
		name      string
		successor p2pstreams.PeerID
		clear     bool
	}{
		{"cleared", "bob", true},
		{"not-a-member", "zed", false},
		{"the-host", "alice", false},
	} {
		sid := s.threeMembers(c.name)
		s.setSuccessor(sid, "alice", c.successor, long, nil)
		if c.clear {
			s.setSuccessor(sid, "alice", "", long, nil)
		}
		s.leave(sid, "alice", false, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"bob", "carol"}})
		s.mustHost(sid, "carol", longOpts(0), "carol")
	}
	// A successor that left for good is no successor.
	sid := s.threeMembers("forgotten")
	s.setSuccessor(sid, "alice", "bob", long, nil)
	s.leave(sid, "bob", true, p2pstreams.Departure{})
	s.leave(sid, "alice", false, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"carol"}})
	s.mustHost(sid, "carol", longOpts(0), "carol")
	// Only the connected host names one.
	sid = s.threeMembers("not-host")
	s.setSuccessor(sid, "bob", "carol", long, p2pstreams.ErrNotMember)
	s.setSuccessor(s.session("nowhere"), "alice", "bob", long, p2pstreams.ErrNotMember)
}

// testSuccessorWindowEnds: once the window has passed, the first peer back
// hosts.
func testSuccessorWindowEnds(t *testing.T, s *suite) {
	sid, window, done := s.withinLease("window", func(sid p2pstreams.SessionID, window time.Duration) error {
		for _, p := range []p2pstreams.PeerID{"alice", "bob", "carol"} {
			if err := s.joinStep(sid, p, longOpts(0), "alice"); err != nil {
				return err
			}
		}
		if err := s.st.SetSuccessor(ctxT(s.t), sid, "alice", "bob", window); err != nil {
			return err
		}
		if _, err := s.st.Leave(ctxT(s.t), sid, "alice", false); err != nil {
			return err
		}
		if _, err := s.st.Join(ctxT(s.t), sid, "carol", longOpts(0)); !errors.Is(err, p2pstreams.ErrSuccessorPending) {
			return errors.New("carol joined within the window: " + errString(err))
		}
		return nil
	})
	waitPast(done.Add(window))
	s.mustHost(sid, "carol", longOpts(0), "carol")
	s.mustHost(sid, "bob", longOpts(0), "carol")
}

// testSuccessorAfterLapse: a host whose lease lapsed (its node died) resets
// the session for its successor too.
func testSuccessorAfterLapse(t *testing.T, s *suite) {
	sid, lease, done := s.withinLease("lapse", func(sid p2pstreams.SessionID, lease time.Duration) error {
		far := time.Now().Add(long)
		if err := s.joinStep(sid, "alice", opts(lease, far, 0), "alice"); err != nil {
			return err
		}
		for _, p := range []p2pstreams.PeerID{"bob", "carol"} {
			if err := s.joinStep(sid, p, opts(long, far, 0), "alice"); err != nil {
				return err
			}
		}
		return s.st.SetSuccessor(ctxT(s.t), sid, "alice", "bob", long)
	})
	waitPast(done.Add(lease))
	s.refresh(sid, "carol", long, p2pstreams.ErrNotMember)
	s.joinErr(sid, "carol", longOpts(0), p2pstreams.ErrSuccessorPending)
	s.mustHost(sid, "bob", longOpts(0), "bob")
	s.mustHost(sid, "carol", longOpts(0), "bob")
}

func errString(err error) string {
	if err == nil {
		return "no error"
	}
	return err.Error()
}
