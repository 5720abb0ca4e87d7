// Package storetest is the contract suite that every p2pstreams.Store runs:
// the memory store, the Redis store and any third-party store. A store that
// passes it keeps the promises that the server relies on (see the Store
// documentation in package p2pstreams):
//
//   - the first peer of a session with no connected host becomes its host, and
//     two peers joining an empty session at once never both do;
//   - a connected peer cannot join twice (ErrPeerConnected), a full session
//     refuses new members (ErrSessionFull) but not its own members coming back;
//   - Leave ends presence, with forget also membership; the host's Leave resets
//     the session and reports who was connected;
//   - presence is a lease renewed by Refresh: a lapsed lease disconnects a
//     member, and a lapsed host lease resets the session (ErrNotMember for
//     the others), so that a dead node cannot keep a host forever;
//   - a store with the optional RefreshBatch renews and refuses as Refresh
//     does, member by member;
//   - memberships expire at JoinOptions.Expires, and so do sessions;
//   - a reset after the host named a successor (SetSuccessor) admits only
//     that successor (the new host) or the old host for the window, and
//     refuses the others with ErrSuccessorPending;
//   - every method returns the context's error when the context is done;
//   - a store with the optional Directory keeps only its host's report with
//     a session, and finds sessions while they have a connected host; one
//     with Refusals refuses removed peers and closed sessions for their
//     time; one with HostChanges hands a recorded end to one next host.
//
// A store's own test runs it, with a fresh store or a shared one:
//
//	func TestContract(t *testing.T) {
//		storetest.Run(t, func(*testing.T) p2pstreams.Store { return mystore.New(...) })
//	}
//
// RunBroker is the same for a Broker, with two brokers standing for two nodes.
//
// Leases in the suite are real and short (tens of milliseconds). A step that
// must happen before a lease lapses is timed, and the case is run again with
// a longer lease when the machine was too slow for it; a step that must
// happen after a lapse waits until the lapse is certain. No case depends on
// how fast the machine is.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
)

// Run runs the whole contract suite. newStore returns the store under test;
// it is called once per case, possibly from parallel cases, and may return
// the same store every time: each case uses session ids of its own.
func Run(t *testing.T, newStore func(t *testing.T) p2pstreams.Store) {
	cases := []struct {
		name string
		run  func(*testing.T, *suite)
	}{
		{"JoinOrderAndHost", testJoinOrder},
		{"PeerConnected", testPeerConnected},
		{"SessionFull", testSessionFull},
		{"LeaveKeepsMembership", testLeaveKeep},
		{"LeaveForget", testLeaveForget},
		{"LeaveUnknown", testLeaveUnknown},
		{"HostLeaveResets", testHostLeave},
		{"SessionsAreSeparate", testSeparate},
		{"RefreshRenews", testRefreshRenews},
		{"RefreshAfterReset", testRefreshAfterReset},
		{"RefreshBatch", testRefreshBatch},
		{"MemberLeaseLapses", testMemberLapse},
		{"HostLeaseLapseResets", testHostLapse},
		{"MemberExpires", testMemberExpires},
		{"HostExpiryResets", testHostExpires},
		{"SessionExpires", testSessionExpires},
		{"ConcurrentJoinsOneHost", testConcurrentJoins},
		{"ConcurrentHostFailover", testConcurrentFailover},
		{"SuccessorHosts", testSuccessorHosts},
		{"SuccessorOldHostBack", testSuccessorOldHostBack},
		{"SuccessorNone", testSuccessorNone},
		{"SuccessorWindowEnds", testSuccessorWindowEnds},
		{"SuccessorAfterLapse", testSuccessorAfterLapse},
		{"ContextDone", testContext},
		// The optional interfaces, when the store has them (directory.go).
		{"DirectoryReport", testDirectoryReport},
		{"Refusals", testRefusals},
		{"HostChanges", testHostChanges},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, &suite{t: t, st: newStore(t), prefix: uniquePrefix(t)})
		})
	}
}

// long is a lease or an expiry that no case outlives.
const long = time.Minute

// short is the first lease tried by cases that need one to lapse.
const short = 30 * time.Millisecond

var runs atomic.Int64

// uniquePrefix keeps session ids of different cases and different runs
// (-count=N against one shared Redis) apart.
func uniquePrefix(t *testing.T) string {
	return fmt.Sprintf("%s/%d/%d/", t.Name(), time.Now().UnixNano(), runs.Add(1))
}

type suite struct {
	t      *testing.T
	st     p2pstreams.Store
	prefix string
}

func (s *suite) session(name string) p2pstreams.SessionID {
	return p2pstreams.SessionID(s.prefix + name)
}

func opts(lease time.Duration, expires time.Time, maxPeers int) p2pstreams.JoinOptions {
	return p2pstreams.JoinOptions{MaxPeers: maxPeers, Lease: lease, Expires: expires}
}

// longOpts is a join that neither lapses nor expires during a case.
func longOpts(maxPeers int) p2pstreams.JoinOptions {
	return opts(long, time.Now().Add(long), maxPeers)
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// join joins and fails the test on an error.
func (s *suite) join(sid p2pstreams.SessionID, p p2pstreams.PeerID, o p2pstreams.JoinOptions) p2pstreams.PeerID {
	s.t.Helper()
	h, err := s.st.Join(ctxT(s.t), sid, p, o)
	if err != nil {
		s.t.Fatalf("Join(%q, %q): %v", sid, p, err)
	}
	return h
}

// mustHost joins and checks the host that Join returns.
func (s *suite) mustHost(sid p2pstreams.SessionID, p p2pstreams.PeerID, o p2pstreams.JoinOptions, want p2pstreams.PeerID) {
	s.t.Helper()
	if h := s.join(sid, p, o); h != want {
		s.t.Fatalf("Join(%q, %q) returned host %q, want %q", sid, p, h, want)
	}
}

// joinErr joins and checks that it fails with want.
func (s *suite) joinErr(sid p2pstreams.SessionID, p p2pstreams.PeerID, o p2pstreams.JoinOptions, want error) {
	s.t.Helper()
	h, err := s.st.Join(ctxT(s.t), sid, p, o)
	if !errors.Is(err, want) {
		s.t.Fatalf("Join(%q, %q) = (%q, %v), want error %v", sid, p, h, err, want)
	}
}

func (s *suite) refresh(sid p2pstreams.SessionID, p p2pstreams.PeerID, lease time.Duration, want error) {
	s.t.Helper()
	err := s.st.Refresh(ctxT(s.t), sid, p, lease)
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		s.t.Fatalf("Refresh(%q, %q) = %v, want %v", sid, p, err, want)
	}
}

func (s *suite) leave(sid p2pstreams.SessionID, p p2pstreams.PeerID, forget bool, want p2pstreams.Departure) {
	s.t.Helper()
	d, err := s.st.Leave(ctxT(s.t), sid, p, forget)
	if err != nil {
		s.t.Fatalf("Leave(%q, %q, %v): %v", sid, p, forget, err)
	}
	// The order of Connected is not part of the contract.
	got := slices.Sorted(slices.Values(d.Connected))
	wantC := slices.Sorted(slices.Values(want.Connected))
	if d.WasHost != want.WasHost || !slices.Equal(got, wantC) {
		s.t.Fatalf("Leave(%q, %q, %v) = %+v, want %+v", sid, p, forget, d, want)
	}
}

// waitPast waits until t is certainly in the past, for the machine's clock
// and for a store's clock on the same machine. A lease that Join or Refresh
// set lapses at most a lease after the call returned: callers pass that.
func waitPast(t time.Time) {
	time.Sleep(time.Until(t) + 5*time.Millisecond)
}

// withinLease runs steps, which must all happen before a lease of the given
// length lapses, with growing leases until the machine is fast enough for
// them: a step that took longer than the lease proves nothing. steps gets a
// fresh session id on each attempt and returns an error instead of failing
// the test, since a step may fail only because the machine was slow.
//
// It returns the time when the steps were done: a lease (or an expiry of
// now+lease) that a step set has lapsed for sure one lease after it.
func (s *suite) withinLease(name string, steps func(sid p2pstreams.SessionID, lease time.Duration) error) (sid p2pstreams.SessionID, lease time.Duration, done time.Time) {
	s.t.Helper()
	for i, lease := 0, short; lease <= 8*time.Second; i, lease = i+1, lease*4 {
		sid := s.session(fmt.Sprintf("%s-%d", name, i))
		start := time.Now()
		err := steps(sid, lease)
		done := time.Now()
		if took := done.Sub(start); took >= lease {
			s.t.Logf("steps took %v, longer than the %v lease: trying a longer lease", took, lease)
			continue
		}
		if err != nil {
			s.t.Fatal(err)
		}
		return sid, lease, done
	}
	s.t.Fatal("the machine was too slow for every lease tried")
	return "", 0, time.Time{}
}
