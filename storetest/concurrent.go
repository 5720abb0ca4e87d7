package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
)

// Concurrency cases: host election and the member bound hold when many
// peers join at once (run them under -race).

const racers = 24

// joinAll joins peers p0..pN-1 to sid at once and returns each one's host
// and error.
func (s *suite) joinAll(sid p2pstreams.SessionID, n int, o p2pstreams.JoinOptions) ([]p2pstreams.PeerID, []error) {
	hosts := make([]p2pstreams.PeerID, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			hosts[i], errs[i] = s.st.Join(ctxT(s.t), sid, peer(i), o)
		})
	}
	close(start)
	wg.Wait()
	return hosts, errs
}

func peer(i int) p2pstreams.PeerID { return p2pstreams.PeerID(fmt.Sprintf("p%d", i)) }

// oneHost checks that every join succeeded, that exactly one joiner was
// made host, and that every joiner was told that same host.
func (s *suite) oneHost(hosts []p2pstreams.PeerID, errs []error) p2pstreams.PeerID {
	s.t.Helper()
	var host p2pstreams.PeerID
	n := 0
	for i := range hosts {
		if errs[i] != nil {
			s.t.Fatalf("Join(%q): %v", peer(i), errs[i])
		}
		if hosts[i] == peer(i) {
			host = hosts[i]
			n++
		}
	}
	if n != 1 {
		s.t.Fatalf("%d joiners were made host, want exactly 1: %q", n, hosts)
	}
	for i := range hosts {
		if hosts[i] != host {
			s.t.Fatalf("joiner %q was told host %q, another was made host: %q", peer(i), hosts[i], host)
		}
	}
	return host
}

func testConcurrentJoins(t *testing.T, s *suite) {
	for round := range 5 {
		s.oneHost(s.joinAll(s.session(fmt.Sprintf("open-%d", round)), racers, longOpts(0)))
	}
	// The member bound holds under a rush too.
	const max = 5
	sid := s.session("bounded")
	hosts, errs := s.joinAll(sid, racers, longOpts(max))
	in, full := 0, 0
	for i, err := range errs {
		switch {
		case err == nil:
			in++
		case errors.Is(err, p2pstreams.ErrSessionFull):
			full++
		default:
			t.Fatalf("Join(%q): %v", peer(i), err)
		}
	}
	if in != max || full != racers-max {
		t.Fatalf("%d joined and %d were refused as full, want %d and %d (hosts %q)", in, full, max, racers-max, hosts)
	}
}

func testConcurrentFailover(t *testing.T, s *suite) {
	sid := s.session("room")
	host := s.oneHost(s.joinAll(sid, racers, longOpts(0)))
	d, err := s.st.Leave(ctxT(t), sid, host, true)
	if err != nil || !d.WasHost || len(d.Connected) != racers-1 {
		t.Fatalf("host Leave = %+v, %v; want WasHost and %d connected", d, err, racers-1)
	}
	// Every client comes back at once, as they do after HostLeft: one of
	// them (or the old host, which races them) is the new host.
	s.oneHost(s.joinAll(sid, racers, longOpts(0)))
}

func testContext(t *testing.T, s *suite) {
	sid := s.session("room")
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	expired, cancel2 := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel2()
	for _, c := range []struct {
		ctx  context.Context
		want error
	}{{canceled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		if h, err := s.st.Join(c.ctx, sid, "alice", longOpts(0)); !errors.Is(err, c.want) {
			t.Fatalf("Join with a done context = (%q, %v), want %v", h, err, c.want)
		}
	}
	// The refused join left nothing behind: bob is the first and the host.
	s.mustHost(sid, "bob", longOpts(0), "bob")
	for _, c := range []struct {
		ctx  context.Context
		want error
	}{{canceled, context.Canceled}, {expired, context.DeadlineExceeded}} {
		if err := s.st.Refresh(c.ctx, sid, "bob", long); !errors.Is(err, c.want) {
			t.Fatalf("Refresh with a done context = %v, want %v", err, c.want)
		}
		if d, err := s.st.Leave(c.ctx, sid, "bob", true); !errors.Is(err, c.want) {
			t.Fatalf("Leave with a done context = (%+v, %v), want %v", d, err, c.want)
		}
	}
	// Bob is still there, still the host.
	s.refresh(sid, "bob", long, nil)
	s.mustHost(sid, "alice", longOpts(0), "bob")
}
