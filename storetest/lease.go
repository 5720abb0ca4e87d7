package storetest

import (
	"context"
	"errors"
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

// testRefreshBatch: a store with RefreshBatch renews what Refresh would and
// refuses what Refresh would, member by member, in order.
func testRefreshBatch(t *testing.T, s *suite) {
	br, ok := s.st.(p2pstreams.BatchRefresher)
	if !ok {
		t.Skip("the store has no RefreshBatch (optional)")
	}
	reset := s.session("reset")
	s.mustHost(reset, "alice", longOpts(0), "alice")
	s.mustHost(reset, "bob", longOpts(0), "alice")
	s.leave(reset, "alice", false, p2pstreams.Departure{WasHost: true, Connected: []p2pstreams.PeerID{"bob"}})
	var batch []p2pstreams.Member
	var other p2pstreams.SessionID
	sid, lease, done := s.withinLease("batch", func(sid p2pstreams.SessionID, lease time.Duration) error {
		far := time.Now().Add(long)
		other = sid + "-other"
		if err := s.joinStep(sid, "alice", opts(lease, far, 0), "alice"); err != nil {
			return err
		}
		if err := s.joinStep(sid, "bob", opts(lease, far, 0), "alice"); err != nil {
			return err
		}
		if err := s.joinStep(other, "carol", opts(lease, far, 0), "carol"); err != nil {
			return err
		}
		batch = []p2pstreams.Member{
			{Session: sid, Peer: "alice"},
			{Session: reset, Peer: "bob"}, // reset: not a member any more
			{Session: sid, Peer: "bob"},
			{Session: sid, Peer: "nobody"},
			{Session: other, Peer: "carol"},
		}
		errs := br.RefreshBatch(ctxT(t), batch, long)
		want := []error{nil, p2pstreams.ErrNotMember, nil, p2pstreams.ErrNotMember, nil}
		if len(errs) != len(want) {
			return fmt.Errorf("RefreshBatch returned %d errors for %d members", len(errs), len(batch))
		}
		for i := range want {
			if want[i] == nil && errs[i] != nil || want[i] != nil && !errors.Is(errs[i], want[i]) {
				return fmt.Errorf("RefreshBatch: member %d (%v): %v, want %v", i, batch[i], errs[i], want[i])
			}
		}
		return nil
	})
	waitPast(done.Add(lease))
	// The batch renewed the three leases past their first lease.
	s.refresh(sid, "alice", long, nil)
	s.refresh(sid, "bob", long, nil)
	s.refresh(other, "carol", long, nil)

	// A done context fails every member.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	for i, err := range br.RefreshBatch(ctx, batch, long) {
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("RefreshBatch with a canceled context: member %d: %v, want context.Canceled", i, err)
		}
	}
	if errs := br.RefreshBatch(ctxT(t), nil, long); len(errs) != 0 {
		t.Fatalf("RefreshBatch(nil) = %v, want no errors", errs)
	}
}
