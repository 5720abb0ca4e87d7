package peer_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// A Go host with several Go clients: every peer gets every message exactly
// once, with its sender, in the same (the host's) order; the state map
// reaches everyone.
func TestHostAndClients(t *testing.T) {
	e := newEnv(t)
	const session, nClients, perPeer = "room", 3, 5
	recs := map[string]*rec{}
	peers := map[string]*peer.Peer{}
	for i := range nClients + 1 {
		id := "host"
		if i > 0 {
			id = fmt.Sprintf("client%d", i)
		}
		r := &rec{}
		recs[id] = r
		peers[id] = e.join(e.config(session, id, r))
	}
	h := peers["host"]
	if !h.IsHost() || h.HostID() != "host" || h.ID() != "host" || h.SessionID() != session {
		t.Fatalf("host: IsHost %v HostID %q ID %q SessionID %q", h.IsHost(), h.HostID(), h.ID(), h.SessionID())
	}
	all := map[protocol.PeerID]peer.State{}
	for id, p := range peers {
		all[protocol.PeerID(id)] = peer.StateConnected
		if id != "host" && (p.IsHost() || p.HostID() != "host" || p.State() != peer.StateConnected) {
			t.Fatalf("%s: IsHost %v HostID %q State %v", id, p.IsHost(), p.HostID(), p.State())
		}
	}
	for id, r := range recs {
		eventually(t, 10*time.Second, id+" sees everyone connected", func() bool {
			return maps.Equal(r.peerMap(), all)
		})
	}

	ctx := context.Background()
	for n := range perPeer {
		for id, p := range peers {
			if err := p.Send(ctx, fmt.Sprintf("%s#%d", id, n)); err != nil {
				t.Fatalf("Send %s: %v", id, err)
			}
		}
	}
	want := (nClients + 1) * perPeer
	for id, r := range recs {
		eventually(t, 10*time.Second, fmt.Sprintf("%s gets %d messages", id, want), func() bool {
			return len(r.messages()) >= want
		})
	}
	time.Sleep(50 * time.Millisecond) // would a duplicate arrive?
	order := recs["host"].messages()
	for id, r := range recs {
		got := r.messages()
		if len(got) != want {
			t.Fatalf("%s got %d messages, want %d", id, len(got), want)
		}
		seen := map[string]bool{}
		next := map[protocol.PeerID]int{}
		for i, m := range got {
			text := m.Text()
			if seen[text] {
				t.Errorf("%s got %q twice", id, text)
			}
			seen[text] = true
			if wantText := fmt.Sprintf("%s#%d", m.From, next[m.From]); text != wantText {
				t.Errorf("%s: message %d is %q from %s, want %q (sender or per-sender order wrong)", id, i, text, m.From, wantText)
			}
			next[m.From]++
			if order[i].From != m.From || order[i].Text() != text {
				t.Errorf("%s: message %d is %v, the host's order has %v", id, i, m, order[i])
			}
		}
	}
	for id, p := range peers {
		if id != "host" && p.Send(ctx, map[string]int{"n": 1}) != nil {
			t.Errorf("%s: Send of an object failed", id)
		}
	}
	for id, r := range recs {
		eventually(t, 10*time.Second, id+" gets the objects", func() bool { return len(r.messages()) == want+nClients })
		for _, m := range r.messages()[want:] {
			var v struct{ N int }
			if err := m.Decode(&v); err != nil || v.N != 1 {
				t.Errorf("%s: object message %s: %v", id, m.Data, err)
			}
		}
	}
	for id, r := range recs {
		states := r.stateLog()
		if states[len(states)-1] != peer.StateConnected {
			t.Errorf("%s: states %v", id, states)
		}
		if id != "host" && !containsInOrder(states, peer.StateNegotiating, peer.StateConnecting, peer.StateConnected) {
			t.Errorf("%s: states %v, want negotiating, connecting, connected", id, states)
		}
	}
}

func containsInOrder(have []peer.State, want ...peer.State) bool {
	i := 0
	for _, s := range have {
		if i < len(want) && s == want[i] {
			i++
		}
	}
	return i == len(want)
}

// A client that closes is seen by the host and the other clients.
func TestClientLeaves(t *testing.T) {
	e := newEnv(t)
	hr, ar, br := &rec{}, &rec{}, &rec{}
	e.join(e.config("room", "host", hr))
	e.join(e.config("room", "alice", ar))
	bob := e.join(e.config("room", "bob", br))
	eventually(t, 10*time.Second, "alice sees bob connected", func() bool { return ar.peerMap()["bob"] == peer.StateConnected })
	closePeer(t, bob)
	if bob.State() != peer.StateClosed || !errors.Is(bob.Err(), peer.ErrClosed) {
		t.Fatalf("bob after Close: %v, %v", bob.State(), bob.Err())
	}
	if err := bob.Send(context.Background(), "late"); !errors.Is(err, peer.ErrClosed) {
		t.Errorf("Send after Close: %v, want ErrClosed", err)
	}
	gone := func(s peer.State) bool { return s == peer.StateClosed || s == peer.StateDisconnected }
	eventually(t, 10*time.Second, "host sees bob gone", func() bool { return gone(hr.peerMap()["bob"]) })
	eventually(t, 10*time.Second, "alice sees bob gone", func() bool { return gone(ar.peerMap()["bob"]) })
	if s := ar.peerMap()["alice"]; s != peer.StateConnected {
		t.Errorf("alice in her own map: %v", s)
	}
}

// A client that goes silent (its process froze) is dropped by the host's
// heartbeat timeout, and seen as disconnected by the others.
func TestHeartbeatTimeout(t *testing.T) {
	e := newEnv(t)
	hr, ar, br := &rec{}, &rec{}, &rec{}
	host := e.join(e.config("room", "host", hr))
	e.join(e.config("room", "alice", ar))
	bcfg := e.config("room", "bob", br)
	bcfg.ManualFailover = true
	bob := e.join(bcfg)
	eventually(t, 10*time.Second, "alice sees bob", func() bool { return ar.peerMap()["bob"] == peer.StateConnected })
	start := time.Now()
	peer.Mute(bob, true)
	eventually(t, 10*time.Second, "host drops bob", func() bool { return hr.peerMap()["bob"] == peer.StateDisconnected })
	if d := time.Since(start); d < fastBeat.IdleTimeout {
		t.Errorf("dropped after %v, before the idle timeout %v", d, fastBeat.IdleTimeout)
	}
	eventually(t, 10*time.Second, "alice sees bob disconnected", func() bool { return ar.peerMap()["bob"] == peer.StateDisconnected })
	// The host closed bob's link: bob, without failover, ends.
	select {
	case <-bob.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("bob did not end after the host dropped him")
	}
	if !errors.Is(bob.Err(), peer.ErrDisconnected) {
		t.Errorf("bob.Err() = %v, want ErrDisconnected", bob.Err())
	}
	if host.Peers()["alice"] != peer.StateConnected {
		t.Errorf("alice in the host's map: %v", host.Peers()["alice"])
	}
}

// Clients joining while the host is busy sending get every message sent
// after their Join returned, none twice, in order: the host holds what it
// relays to a client until the client's channel is open on its side too.
func TestJoinWhileSending(t *testing.T) {
	e := newEnv(t)
	host := e.join(e.config("room", "host", &rec{}))
	// The host sends until every client has joined, then 50 more: a fixed
	// count ran out before the last join on a loaded machine, and a client
	// that joins after the last message never gets any (nothing is replayed).
	var sent, last atomic.Int64 // the message the host was last asked to send; the final one
	sent.Store(-1)
	allJoined, done := make(chan struct{}), make(chan struct{})
	joinedAll := sync.OnceFunc(func() { close(allJoined) })
	defer func() { joinedAll(); <-done }()
	go func() {
		defer close(done)
		final := -1
		for i := 0; ; i++ {
			sent.Store(int64(i))
			if err := host.Send(context.Background(), i); err != nil {
				t.Error(err)
				return
			}
			if final < 0 {
				select {
				case <-allJoined:
					final = i + 50
				default:
				}
			}
			if i == final {
				last.Store(int64(i))
				return
			}
			time.Sleep(200 * time.Microsecond)
		}
	}()
	type joined struct {
		r     *rec
		after int64
	}
	var clients []joined
	for i := range 4 {
		r := &rec{}
		e.join(e.config("room", fmt.Sprintf("c%d", i), r))
		clients = append(clients, joined{r, sent.Load()})
	}
	joinedAll()
	<-done
	total := last.Load() + 1
	for i, c := range clients {
		eventually(t, 10*time.Second, fmt.Sprintf("c%d gets the last message", i), func() bool {
			ms := c.r.messages()
			return len(ms) > 0 && ms[len(ms)-1].Text() == fmt.Sprint(total-1)
		})
		var got []int
		for _, m := range c.r.messages() {
			var n int
			if err := m.Decode(&n); err != nil {
				t.Fatal(err)
			}
			got = append(got, n)
		}
		for j := 1; j < len(got); j++ {
			if got[j] != got[j-1]+1 {
				t.Fatalf("c%d: message %d after %d (gap or repeat)", i, got[j], got[j-1])
			}
		}
		if int64(got[0]) > c.after+1 {
			t.Errorf("c%d: first message %d, but Join returned when %d had been sent", i, got[0], c.after)
		}
		t.Logf("c%d joined after %d, got %d..%d", i, c.after, got[0], got[len(got)-1])
	}
}
