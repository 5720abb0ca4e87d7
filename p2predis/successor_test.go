package p2predis_test

import (
	"encoding/json"
	"testing"
	"time"

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
	bob.expect(protocol.HostLeft)
	carol.expect(protocol.HostLeft)
	carol.sendJoin(s)
	carol.expectError(protocol.CodeSuccessorPending)
	if h := bob.join(s); h != "bob" {
		t.Fatalf("bob, the successor, joined with host %q", h)
	}
	if h := carol.join(s); h != "bob" {
		t.Fatalf("carol joined with host %q, want bob", h)
	}
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
	carol.expect(protocol.HostLeft)
	bob.expect(protocol.HostLeft)
	carol.sendJoin(s)
	carol.expectError(protocol.CodeSuccessorPending)
	if h := bob.rejoin(s); h != "bob" {
		t.Fatalf("bob, the successor, joined with host %q", h)
	}
	if h := carol.rejoin(s); h != "bob" {
		t.Fatalf("carol joined with host %q, want bob", h)
	}
}
