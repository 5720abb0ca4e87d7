package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
)

// Lease cases: presence lasts a lease, Refresh renews it, and a host whose
// lease lapses takes its session down with it.

// joinStep is a step of withinLease: p joins sid and must get host.
func (s *suite) joinStep(sid p2pstreams.SessionID, p p2pstreams.PeerID, o p2pstreams.JoinOptions, host p2pstreams.PeerID) error {
	h, err := s.st.Join(ctxT(s.t), sid, p, o)
	if err != nil {
		return fmt.Errorf("Join(%q, %q): %w", sid, p, err)
	}
	if h != host {
		return fmt.Errorf("Join(%q, %q) returned host %q, want %q", sid, p, h, host)
	}
	return nil
}

func testRefreshRenews(t *testing.T, s *suite) {
	sid, lease, done := s.withinLease("renew", func(sid p2pstreams.SessionID, lease time.Duration) error {
		far := time.Now().Add(long)
		if err := s.joinStep(sid, "alice", opts(lease, far, 0), "alice"); err != nil {
			return err
		}
		if err := s.joinStep(sid, "bob", opts(lease, far, 0), "alice"); err != nil {
			return err
		}
		for _, p := range []p2pstreams.PeerID{"alice", "bob"} {
			if err := s.st.Refresh(ctxT(t), sid, p, long); err != nil {
				return fmt.Errorf("Refresh(%q): %w", p, err)
			}
		}
		return nil
	})
	waitPast(done.Add(lease))
	// Both leases were renewed past their first lease: still connected.
	s.refresh(sid, "alice", long, nil)
	s.refresh(sid, "bob", long, nil)
	s.joinErr(sid, "bob", longOpts(0), p2pstreams.ErrPeerConnected)
	s.mustHost(sid, "carol", longOpts(0), "alice")
}

func testRefreshAfterReset(t *testing.T, s *suite) {
	sid := s.session("room")
	s.mustHost(sid, "alice", longOpts(0), "alice")
	s.mustHost(sid, "bob", longOpts(0), "alice")
	s.mustHost(sid, "carol", longOpts(0), "alice")
	s.leave(sid, "alice", false, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"bob", "carol"}})
	// A new session under the same id does not bring old members back.
	s.mustHost(sid, "carol", longOpts(0), "carol")
	s.refresh(sid, "bob", long, p2pstreams.ErrNotMember)
	s.refresh(sid, "alice", long, p2pstreams.ErrNotMember)
	s.refresh(sid, "carol", long, nil)
}

func testMemberLapse(t *testing.T, s *suite) {
	sid := s.session("room")
	s.mustHost(sid, "alice", longOpts(2), "alice")
	s.mustHost(sid, "bob", opts(short, time.Now().Add(long), 2), "alice")
	waitPast(time.Now().Add(short))
	// Bob's node stopped renewing: he is no longer connected...
	s.refresh(sid, "bob", long, p2pstreams.ErrNotMember)
	// ...but still a member: his place is kept and he may come back.
	s.joinErr(sid, "carol", longOpts(2), p2pstreams.ErrSessionFull)
	s.mustHost(sid, "bob", longOpts(2), "alice")
	s.refresh(sid, "alice", long, nil)

	// A Refresh may shorten a lease too; once it lapses, the host's Leave
	// does not count bob among the connected.
	s.refresh(sid, "bob", short, nil)
	waitPast(time.Now().Add(short))
	s.leave(sid, "alice", false, p2pstreams.Departure{WasHost: true})
}

func testHostLapse(t *testing.T, s *suite) {
	sid, lease, done := s.withinLease("lapse", func(sid p2pstreams.SessionID, lease time.Duration) error {
		far := time.Now().Add(long)
		if err := s.joinStep(sid, "alice", opts(lease, far, 0), "alice"); err != nil {
			return err
		}
		if err := s.joinStep(sid, "bob", opts(long, far, 0), "alice"); err != nil {
			return err
		}
		return s.joinStep(sid, "carol", opts(long, far, 0), "alice")
	})
	waitPast(done.Add(lease))
	// The host's node died: its lease lapsed and the session is reset, so
	// the others' nodes learn it from Refresh.
	s.refresh(sid, "bob", long, p2pstreams.ErrNotMember)
	s.refresh(sid, "alice", long, p2pstreams.ErrNotMember)
	s.leave(sid, "alice", false, p2pstreams.Departure{})
	// The next peer to join is the new host.
	s.mustHost(sid, "carol", longOpts(0), "carol")
	s.mustHost(sid, "bob", longOpts(0), "carol")
	s.mustHost(sid, "alice", longOpts(0), "carol")

	// Without anyone calling Refresh, the first joiner after the lapse is host.
	sid2, lease, done := s.withinLease("lapse-join", func(sid p2pstreams.SessionID, lease time.Duration) error {
		return s.joinStep(sid, "alice", opts(lease, time.Now().Add(long), 0), "alice")
	})
	waitPast(done.Add(lease))
	s.mustHost(sid2, "bob", longOpts(0), "bob")
}
