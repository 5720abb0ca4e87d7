package p2predis_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// nameSuccessor has host report a map with successor; the rate-limited
// second report proves the first was handled.
func nameSuccessor(host *peer, states string, successor string) {
	host.t.Helper()
	m := protocol.Message{State: protocol.PeerStates, Data: json.RawMessage(states), Successor: protocol.PeerID(successor)}
	host.send(m)
	host.send(m)
	host.expectError(protocol.CodeRateLimited)
}

// The successor a host names on one node is kept in Redis: when the host
// leaves, a client on another node that joins first waits
// (successor_pending), and the successor hosts, wherever it is.
func TestSuccessorAcrossNodes(t *testing.T) {
	_, rdb := newRedis(t)
	a, b := startNode(t, rdb, 3*time.Second), startNode(t, rdb, 3*time.Second)
	const s = "succession"
	alice, _ := join(t, a, s, "alice")
	bob, _ := join(t, b, s, "bob")
	alice.expect(protocol.SessionReady)
	carol, _ := join(t, a, s, "carol")
	alice.expect(protocol.SessionReady)
	nameSuccessor(alice, `{"alice":"connected","bob":"connected","carol":"connected"}`, "bob")

	alice.send(protocol.Message{State: protocol.SessionLeave})
	successorHosts(t, s, bob, carol)
	if m := bob.expect(protocol.SessionReady); m.PeerID != "carol" {
		t.Fatalf("bob got %+v, want SessionReady for carol", m)
	}
}

// A host whose node dies resets its session when its lease lapses; its
// successor, on another node, still hosts next.
func TestSuccessorOfKilledNode(t *testing.T) {
	srv, rdb := newRedis(t)
	const lease = time.Second
	doomed := startNodeProcess(t, srv.Addr, lease)
	b := startNode(t, rdb, lease)
	const s = "succession-killed"
	alice, _ := join(t, doomed, s, "alice")
	bob, _ := join(t, b, s, "bob")
	alice.expect(protocol.SessionReady)
	carol, _ := join(t, b, s, "carol")
	alice.expect(protocol.SessionReady)
	nameSuccessor(alice, `{"alice":"connected","bob":"connected","carol":"connected"}`, "bob")

	doomed.kill()
	successorHosts(t, s, bob, carol)
}

// successorHosts: once both are told HostLeft, other, joining first, waits
// (successor_pending); successor joins and hosts, then other joins it.
func successorHosts(t *testing.T, s p2pstreams.SessionID, successor, other *peer) {
	t.Helper()
	successor.expect(protocol.HostLeft)
	other.expect(protocol.HostLeft)
	other.sendJoin(s)
	other.expectError(protocol.CodeSuccessorPending)
	if h := successor.rejoin(s); h != successor.id {
		t.Fatalf("%s, the successor, joined with host %q", successor.id, h)
	}
	if h := other.rejoin(s); h != successor.id {
		t.Fatalf("%s joined with host %q, want %s", other.id, h, successor.id)
	}
}
