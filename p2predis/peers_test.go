package p2predis_test

import (
	"context"
	"strings"
	"testing"
	"time"

	gopeer "github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// runHostPeer runs in a node process (nodeHostEnv): a Go peer joins
// "session/peer" through the node at url, and lives until the process dies.
func runHostPeer(url, sessionPeer string) error {
	s, id, _ := strings.Cut(sessionPeer, "/")
	tok, err := token.Issue(secret, token.Claims{Session: protocol.SessionID(s), Peer: protocol.PeerID(id), Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	_, err = gopeer.Join(ctx, gopeer.Config{URL: url, Token: tok, API: peertest.LoopbackAPI()})
	return err
}

// joinPeer joins a Go peer to session s through node n, with failover and
// the heartbeat hb (zero: the default, 1 s, idle 4 s), and closes it when
// the test ends. Its heal window is the default (20 s): a client whose link
// breaks asks the server at once whether its host is still served
// (HostCheck), so a killed host's clients rejoin without waiting it out.
func joinPeer(t *testing.T, n *node, s, id string, hb gopeer.Heartbeat) *gopeer.Peer {
	t.Helper()
	tok, err := token.Issue(secret, token.Claims{Session: protocol.SessionID(s), Peer: protocol.PeerID(id), Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := gopeer.Join(ctx, gopeer.Config{URL: n.url, Token: tok, API: peertest.LoopbackAPI(), Heartbeat: hb})
	if err != nil {
		t.Fatalf("%s: Join: %v", id, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		p.Close(ctx)
	})
	return p
}

// Three nodes on one Redis; the host's node is killed (SIGKILL) and the
// host with it (a Go peer in the node's process: its UDP goes silent). Its clients,
// on the two other nodes, notice by their heartbeat, join again, and their
// nodes find that no node serves the host: the session is reset at once,
// long before the 15 s lease, and they are in a room with a new host.
//
// How long it takes is mostly the clients' heartbeat: silence for the idle
// timeout, checked every interval. The test runs with the default (idle
// 4 s) and with a faster one (idle 2 s).
func TestKilledHostNodeClientsHealInSeconds(t *testing.T) {
	for _, hb := range []gopeer.Heartbeat{{}, {Interval: 500 * time.Millisecond, IdleTimeout: 2 * time.Second}} {
		t.Run("idle="+hb.IdleTimeout.String(), func(t *testing.T) { killHostNode(t, hb) })
	}
}

func killHostNode(t *testing.T, hb gopeer.Heartbeat) {
	srv, rdb := newRedis(t)
	const lease = 15 * time.Second
	doomed := startNodeProcess(t, srv.Addr, lease, nodeHostEnv+"=room/host")
	b, c := startNode(t, rdb, lease), startNode(t, rdb, lease)
	alice := joinPeer(t, b, "room", "alice", hb)
	bob := joinPeer(t, c, "room", "bob", hb)
	waitFor(t, 20*time.Second, "the room up", func() bool {
		m := bob.Peers()
		return alice.HostID() == "host" && m["alice"] == gopeer.StateConnected && m["bob"] == gopeer.StateConnected
	})

	killed := time.Now()
	doomed.kill()
	waitFor(t, 20*time.Second, "alice and bob under a new host", func() bool {
		h := alice.HostID()
		return h != "host" && h != "" && h == bob.HostID() &&
			alice.State() == gopeer.StateConnected && bob.State() == gopeer.StateConnected
	})
	took := time.Since(killed)
	t.Logf("clients on the other nodes in a room with a new host %v after the kill (heartbeat %+v, lease %v)", took.Round(10*time.Millisecond), hb, lease)
	if took >= lease {
		t.Errorf("healed after %v: the lease did it, not the liveness check", took)
	}
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
