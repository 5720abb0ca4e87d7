package peer_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// Without failover, clients see the host leave and end: one that kept its
// signaling connection hears HostLeft from the server; one that dropped it
// sees its DataChannel close.
func TestHostLeavesManualFailover(t *testing.T) {
	e := newEnv(t)
	host := e.join(e.config("room", "host", &rec{}))
	ar, br := &rec{}, &rec{}
	acfg := e.config("room", "alice", ar)
	acfg.ManualFailover, acfg.KeepSignaling = true, true
	alice := e.join(acfg)
	bcfg := e.config("room", "bob", br)
	bcfg.ManualFailover = true
	bob := e.join(bcfg)

	closePeer(t, host)
	for _, c := range []struct {
		p    *peer.Peer
		r    *rec
		want error
	}{{alice, ar, peer.ErrHostLeft}, {bob, br, peer.ErrDisconnected}} {
		select {
		case <-c.p.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%s did not see the host leave", c.p.ID())
		}
		if !errors.Is(c.p.Err(), c.want) {
			t.Errorf("%s: Err() = %v, want %v", c.p.ID(), c.p.Err(), c.want)
		}
		if c.p.State() != peer.StateClosed {
			t.Errorf("%s: State() = %v, want closed", c.p.ID(), c.p.State())
		}
		eventually(t, 5*time.Second, "callbacks delivered", func() bool {
			s := c.r.stateLog()
			return len(s) > 0 && s[len(s)-1] == peer.StateClosed
		})
		if s := c.r.stateLog(); !containsInOrder(s, peer.StateConnected, peer.StateDisconnected, peer.StateClosed) {
			t.Errorf("%s: states %v, want connected, disconnected, closed", c.p.ID(), s)
		}
		if err := c.p.Send(context.Background(), "x"); !errors.Is(err, peer.ErrClosed) {
			t.Errorf("%s: Send after the end: %v", c.p.ID(), err)
		}
	}
}

// With failover (the default), the clients rejoin when the host leaves: the
// first one back becomes the host and the room works again.
func TestHostLeavesFailover(t *testing.T) {
	e := newEnv(t)
	host := e.join(e.config("room", "host", &rec{}))
	ids := []string{"alice", "bob", "carol"}
	peers := map[string]*peer.Peer{}
	recs := map[string]*rec{}
	for i, id := range ids {
		recs[id] = &rec{}
		cfg := e.config("room", id, recs[id])
		cfg.KeepSignaling = i == 0 // one hears HostLeft, the others see their channel close
		peers[id] = e.join(cfg)
	}
	closePeer(t, host)
	t.Cleanup(func() {
		if t.Failed() {
			for id, p := range peers {
				t.Logf("%s: host %v state %v hostID %q peers %v states %v", id, p.IsHost(), p.State(), p.HostID(), p.Peers(), recs[id].stateLog())
			}
		}
	})

	var newHost *peer.Peer
	eventually(t, 20*time.Second, "one client becomes host and the others connect to it", func() bool {
		newHost = nil
		for _, p := range peers {
			if p.IsHost() {
				if newHost != nil {
					t.Fatalf("two hosts: %s and %s", newHost.ID(), p.ID())
				}
				newHost = p
			}
		}
		if newHost == nil {
			return false
		}
		for _, p := range peers {
			if p.State() != peer.StateConnected || p.HostID() != newHost.ID() {
				return false
			}
		}
		m := newHost.Peers()
		return len(m) == 3 && m["alice"] == peer.StateConnected && m["bob"] == peer.StateConnected && m["carol"] == peer.StateConnected
	})
	t.Logf("new host: %s", newHost.ID())
	base := map[string]int{}
	for id, r := range recs {
		base[id] = len(r.messages())
	}
	for _, id := range ids {
		if err := peers[id].Send(context.Background(), "after failover from "+id); err != nil {
			t.Fatalf("Send %s: %v", id, err)
		}
	}
	for id, r := range recs {
		eventually(t, 10*time.Second, id+" gets the three messages", func() bool { return len(r.messages()) >= base[id]+3 })
		got := map[protocol.PeerID]string{}
		for _, m := range r.messages()[base[id]:] {
			if _, dup := got[m.From]; dup {
				t.Errorf("%s: two messages from %s", id, m.From)
			}
			got[m.From] = m.Text()
		}
		for _, from := range ids {
			if got[protocol.PeerID(from)] != "after failover from "+from {
				t.Errorf("%s: from %s got %q", id, from, got[protocol.PeerID(from)])
			}
		}
	}
	for _, id := range ids {
		if peers[id] != newHost && !containsInOrder(recs[id].stateLog(), peer.StateConnected, peer.StateDisconnected, peer.StateConnected) {
			t.Errorf("%s: states %v", id, recs[id].stateLog())
		}
	}
}

// Join returns the server's refusal at once, as a *protocol.CodeError.
func TestJoinRefused(t *testing.T) {
	e := newEnv(t)
	cfg := e.config("room", "eve", &rec{})
	cfg.Token = cfg.Token[:len(cfg.Token)-2] + "AA" // forged signature
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	start := time.Now()
	p, err := peer.Join(ctx, cfg)
	if p != nil || protocol.CodeOf(err) != protocol.CodeBadToken || !errors.Is(err, &protocol.CodeError{Code: protocol.CodeBadToken}) {
		t.Fatalf("Join with a forged token: %v, %v", p, err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("refusal took %v", d)
	}
	expired, err := e.srv.Token("room", "eve", -time.Minute, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Token = expired
	if _, err := peer.Join(ctx, cfg); protocol.CodeOf(err) != protocol.CodeTokenExpired {
		t.Fatalf("Join with an expired token: %v", err)
	}
}

// Join gives up when its context ends, and says what failed last.
func TestJoinContext(t *testing.T) {
	checkGoroutines(t)
	ctx, cancel := context.WithTimeout(context.Background(), 600*time.Millisecond)
	defer cancel()
	_, err := peer.Join(ctx, peer.Config{URL: "ws://127.0.0.1:1/p2p/", Token: "x.y", API: loopback})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Join to a closed port: %v", err)
	}
	t.Log(err)
}

// Close from a callback does not deadlock, and nothing is left running.
func TestCloseFromCallback(t *testing.T) {
	e := newEnv(t)
	e.join(e.config("room", "host", &rec{}))
	closed := make(chan error, 1)
	var p *peer.Peer
	cfg := e.config("room", "alice", &rec{})
	ready := make(chan struct{})
	cfg.OnMessage = func(m peer.Message) {
		<-ready
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		closed <- p.Close(ctx)
	}
	p = e.join(cfg)
	close(ready)
	if err := p.Send(context.Background(), "bye"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("Close from a callback: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close from a callback did not return")
	}
	<-p.Done()
	if !errors.Is(p.Err(), peer.ErrClosed) {
		t.Errorf("Err() = %v", p.Err())
	}
}
