package p2predis_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// Three server nodes share one Redis: the host on one node, its clients on
// the others. Everything of PROTOCOL.md that crosses nodes works as on one.
func TestMultiNodeSession(t *testing.T) {
	_, rdb := newRedis(t)
	nodes := []*node{startNode(t, rdb, 3*time.Second), startNode(t, rdb, 3*time.Second), startNode(t, rdb, 3*time.Second)}
	const s = "lobby"

	alice, host := join(t, nodes[0], s, "alice")
	if host != "alice" {
		t.Fatalf("first joiner got host %q", host)
	}
	bob, host := join(t, nodes[1], s, "bob")
	if host != "alice" {
		t.Fatalf("bob got host %q, want alice", host)
	}
	if m := alice.expect(protocol.SessionReady); m.PeerID != "bob" || m.HostPeerID != "alice" {
		t.Fatalf("alice got %+v, want SessionReady for bob", m)
	}
	carol, _ := join(t, nodes[2], s, "carol")
	if m := alice.expect(protocol.SessionReady); m.PeerID != "carol" {
		t.Fatalf("alice got %+v, want SessionReady for carol", m)
	}

	// Negotiation, each message to its one target on another node.
	alice.route(protocol.SdpOffer, "bob", `{"type":"offer","sdp":"for bob"}`)
	bob.expectRouted(protocol.SdpOffer, "alice", `{"type":"offer","sdp":"for bob"}`)
	bob.route(protocol.SdpAnswer, "alice", `{"type":"answer","sdp":"from bob"}`)
	alice.expectRouted(protocol.SdpAnswer, "bob", `{"type":"answer","sdp":"from bob"}`)
	bob.route(protocol.IceCandidate, "alice", `{"candidate":"b1"}`)
	alice.route(protocol.IceCandidate, "bob", `{"candidate":"a1"}`)
	alice.expectRouted(protocol.IceCandidate, "bob", `{"candidate":"b1"}`)
	bob.expectRouted(protocol.IceCandidate, "alice", `{"candidate":"a1"}`)
	alice.route(protocol.SdpOffer, "carol", `{"type":"offer","sdp":"for carol"}`)
	// Carol's first message is her own offer: nothing for bob reached her.
	carol.expectRouted(protocol.SdpOffer, "alice", `{"type":"offer","sdp":"for carol"}`)
	carol.route(protocol.SdpAnswer, "alice", `{"type":"answer","sdp":"from carol"}`)
	alice.expectRouted(protocol.SdpAnswer, "carol", `{"type":"answer","sdp":"from carol"}`)

	// A target connected to no node.
	alice.route(protocol.SdpOffer, "nobody", `{}`)
	alice.expectError(protocol.CodePeerNotFound)

	// A client that leaves for good: the host on another node is told.
	carol.send(protocol.Message{State: protocol.SessionLeave})
	if m := alice.expect(protocol.PeerLeft); m.PeerID != "carol" {
		t.Fatalf("alice got PeerLeft for %q, want carol", m.PeerID)
	}

	// The host leaves: the clients on other nodes are told, and the first
	// to come back is the new host, on its own node.
	alice.send(protocol.Message{State: protocol.SessionLeave})
	if m := bob.expect(protocol.HostLeft); m.HostPeerID != "alice" {
		t.Fatalf("bob got HostLeft %+v", m)
	}
	carol.quiet(50 * time.Millisecond) // she had left already
	if h := bob.join(s); h != "bob" {
		t.Fatalf("bob rejoined with host %q, want bob", h)
	}
	if h := alice.join(s); h != "bob" {
		t.Fatalf("alice rejoined with host %q, want bob", h)
	}
	if m := bob.expect(protocol.SessionReady); m.PeerID != "alice" {
		t.Fatalf("bob got %+v, want SessionReady for alice", m)
	}
	bob.route(protocol.SdpOffer, "alice", `{"n":2}`)
	alice.expectRouted(protocol.SdpOffer, "bob", `{"n":2}`)
}

// Many peers join one empty session at once, spread over three nodes:
// exactly one becomes host, all agree on it, and the host hears of every
// other peer whichever node it is on.
func TestMultiNodeConcurrentJoins(t *testing.T) {
	_, rdb := newRedis(t)
	nodes := []*node{startNode(t, rdb, 3*time.Second), startNode(t, rdb, 3*time.Second), startNode(t, rdb, 3*time.Second)}
	const n = 24
	var early, missed []string
	for round := range 3 {
		s := p2pstreams.SessionID(fmt.Sprintf("rush-%d", round))
		peers := make([]*peer, n)
		for i := range peers {
			peers[i] = dial(t, nodes[i%len(nodes)], p2pstreams.PeerID(fmt.Sprintf("p%d", i)))
		}
		hosts := make([]p2pstreams.PeerID, n)
		before := make([][]p2pstreams.PeerID, n) // SessionReady for others before one's own
		var wg sync.WaitGroup
		for i, p := range peers {
			p.sendJoin(s)
			wg.Go(func() {
				for {
					m, err := p.read(10 * time.Second)
					switch {
					case err != nil || m.State != protocol.SessionReady:
						t.Errorf("%s: got %+v, %v; want its SessionReady", p.id, m, err)
					case m.PeerID != p.id:
						before[i] = append(before[i], m.PeerID)
						continue
					default:
						hosts[i] = m.HostPeerID
					}
					return
				}
			})
		}
		wg.Wait()
		if t.Failed() {
			return
		}
		hi := -1
		for i, p := range peers {
			if hosts[i] == p.id {
				if hi >= 0 {
					t.Fatalf("round %d: two hosts, %s and %s", round, peers[hi].id, p.id)
				}
				hi = i
			}
		}
		if hi < 0 {
			t.Fatalf("round %d: no joiner was made host: %q", round, hosts)
		}
		host := peers[hi]
		for i, p := range peers {
			if hosts[i] != host.id {
				t.Fatalf("round %d: %s was told host %q, but %s is host", round, p.id, hosts[i], host.id)
			}
			if i != hi && len(before[i]) > 0 {
				t.Fatalf("round %d: client %s got SessionReady for %q", round, p.id, before[i])
			}
		}
		seen := map[p2pstreams.PeerID]bool{}
		for _, id := range before[hi] {
			seen[id] = true
			early = append(early, fmt.Sprintf("round %d: %s before its own", round, id))
		}
		for len(seen) < n-1 {
			m, err := host.read(2 * time.Second)
			if err != nil {
				break // the rest never come
			}
			if m.State != protocol.SessionReady || seen[m.PeerID] || m.PeerID == host.id {
				t.Fatalf("round %d: host got %+v: not a SessionReady for a new peer", round, m)
			}
			seen[m.PeerID] = true
		}
		for _, p := range peers {
			if p != host && !seen[p.id] {
				missed = append(missed, fmt.Sprintf("round %d: %s", round, p.id))
			}
		}
	}
	if len(early) > 0 || len(missed) > 0 {
		// A joiner subscribes before the store knows it, and hears its own
		// SessionReady first (ARCHITECTURE.md, invariant 6).
		t.Fatalf("the host missed SessionReady for %d peers %q and got %d before its own %q",
			len(missed), missed, len(early), early)
	}
}
