package p2pstreams

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// The host names its successor in PeerStates; once the host is gone, the
// session waits for that peer: others that join first are refused with
// successor_pending (a retry) and join it when it hosts.
func TestSuccessorHostsAfterTheHost(t *testing.T) {
	srv, url := newTestServer(t, nil)
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)
	carol, _ := join(t, srv, url, "room", "carol")
	alice.expect(protocol.SessionReady)

	states := json.RawMessage(`{"alice":"connected","bob":"connected","carol":"negotiating"}`)
	for _, c := range []struct {
		from *testPeer
		succ PeerID
		want protocol.Code
	}{
		{bob, "bob", protocol.CodeNotHost},
		{alice, "alice", protocol.CodeBadMessage}, // itself
		{alice, "carol", protocol.CodeBadMessage}, // not connected
		{alice, "dave", protocol.CodeBadMessage},  // not in the map
	} {
		c.from.send(protocol.Message{State: protocol.PeerStates, Data: states, Successor: c.succ})
		c.from.expectError(c.want)
	}
	alice.send(protocol.Message{State: protocol.PeerStates, Data: states, Successor: "bob"})
	alice.send(protocol.Message{State: protocol.PeerStates, Data: states, Successor: "bob"})
	alice.expectError(protocol.CodeRateLimited) // so the first was handled
	bob.nc.Close()                              // connected to alice, the clients drop their WebSockets
	carol.nc.Close()
	alice.nc.Close() // the host goes

	// carol comes back first: she waits for bob (while the server has not
	// yet seen alice go, she still finds alice).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tp := dial(t, url)
		tp.join(srv, "room", "carol")
		m := tp.next()
		tp.nc.Close()
		if m.State == protocol.Error && m.Code == protocol.CodeSuccessorPending {
			break
		}
		if m.State != protocol.SessionReady || m.HostPeerID != "alice" || time.Now().After(deadline) {
			t.Fatalf("carol: got %s %+v, want successor_pending", m.State, m)
		}
	}
	_, m := joinRetrying(t, srv, url, "room", "bob", protocol.CodePeerConnected)
	if m.HostPeerID != "bob" {
		t.Fatalf("bob joined with host %q, want bob, the successor", m.HostPeerID)
	}
	_, m = joinRetrying(t, srv, url, "room", "carol", protocol.CodePeerConnected)
	if m.HostPeerID != "bob" {
		t.Fatalf("carol joined with host %q, want bob", m.HostPeerID)
	}
}

// Without successors kept (SuccessorWindow < 0), the first peer back hosts.
func TestSuccessorWindowOff(t *testing.T) {
	srv, url := newTestServer(t, &Options{SuccessorWindow: -1})
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)
	states := json.RawMessage(`{"alice":"connected","bob":"connected"}`)
	alice.send(protocol.Message{State: protocol.PeerStates, Data: states, Successor: "bob"})
	alice.send(protocol.Message{State: protocol.PeerStates, Data: states, Successor: "bob"})
	alice.expectError(protocol.CodeRateLimited)
	bob.nc.Close()
	alice.nc.Close()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tp := dial(t, url)
		tp.join(srv, "room", "carol")
		m := tp.next()
		tp.nc.Close()
		if m.State == protocol.SessionReady && m.HostPeerID == "carol" {
			return
		}
		if m.State != protocol.SessionReady || m.HostPeerID != "alice" || time.Now().After(deadline) {
			t.Fatalf("carol: got %s %+v, want to host", m.State, m)
		}
	}
}
