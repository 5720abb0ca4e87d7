package p2pstreams

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// The host's PeerStates is the server's presence: Sessions lists a client
// that dropped its WebSocket with its link's state, and a peer that became
// connected is an event. A client cannot report, and a host is rate-limited.
func TestPresenceFromHostReports(t *testing.T) {
	var log eventLog
	srv, url := newTestServer(t, &Options{OnEvent: log.add})
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)

	bob.send(protocol.Message{State: protocol.PeerStates, Data: json.RawMessage(`{"bob":"connected"}`)})
	bob.expectError(protocol.CodeNotHost)
	alice.send(protocol.Message{State: protocol.PeerStates, Data: json.RawMessage(`{"alice":"connected","bob":"connected"}`)})
	alice.send(protocol.Message{State: protocol.PeerStates, Data: json.RawMessage(`{"alice":"connected","bob":"connected"}`)})
	alice.expectError(protocol.CodeRateLimited) // the second, at once
	bob.nc.Close()                              // connected to alice, bob drops his WebSocket
	got := log.waitFor(t, 5)
	if got[3] != "peer_connected room bob host=alice" {
		t.Errorf("events %q; want peer_connected for bob fourth", got)
	}
	var ss []SessionInfo
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ss, _ = srv.Sessions(context.Background())
		if len(ss) == 1 && len(ss[0].Peers) == 2 && !ss[0].Peers[1].Signaling {
			break
		}
	}
	want := []PeerInfo{{"alice", "connected", true}, {"bob", "connected", false}}
	if len(ss) != 1 || ss[0].ID != "room" || ss[0].Host != "alice" || len(ss[0].Peers) != 2 || ss[0].Peers[0] != want[0] || ss[0].Peers[1] != want[1] {
		t.Errorf("Sessions() = %+v; want room hosted by alice with %+v", ss, want)
	}
}

// RemovePeer frees the place, closes the peer's WebSocket with
// peer_removed, tells its host, and refuses its token afterwards.
func TestRemovePeer(t *testing.T) {
	var log eventLog
	srv, url := newTestServer(t, &Options{OnEvent: log.add, MaxPeers: 2})
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)
	ctx := context.Background()

	if err := srv.RemovePeer(ctx, "room", "b\x00"); !errors.Is(err, ErrBadID) {
		t.Errorf("a bad id: %v, want ErrBadID", err)
	}
	if err := srv.RemovePeer(ctx, "nowhere", "bob"); !errors.Is(err, ErrNoSession) {
		t.Errorf("an unknown session: %v, want ErrNoSession", err)
	}
	if err := srv.RemovePeer(ctx, "room", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, _, codes := bob.expectClose(); len(codes) != 1 || codes[0] != protocol.CodePeerRemoved {
		t.Errorf("bob got %v before the close, want peer_removed", codes)
	}
	if m := alice.expect(protocol.PeerLeft); m.PeerID != "bob" {
		t.Errorf("alice got PeerLeft for %q", m.PeerID)
	}
	again := dial(t, url)
	again.join(srv, "room", "bob")
	again.expectError(protocol.CodePeerRemoved)
	carol, _ := join(t, srv, url, "room", "carol") // bob's place is free (MaxPeers 2)
	_ = carol
	if got := log.waitFor(t, 5); got[3] != "peer_removed room bob host=alice" {
		t.Errorf("events %q; want peer_removed fourth", got)
	}

	if err := srv.CloseSession(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if _, _, codes := alice.expectClose(); len(codes) != 1 || codes[0] != protocol.CodeSessionClosed {
		t.Errorf("alice got %v, want session_closed", codes)
	}
	late := dial(t, url)
	late.join(srv, "room", "dave")
	late.expectError(protocol.CodeSessionClosed)
}

// A Store without the optional interfaces (cluster.go) gets the per-node
// behaviour: Sessions lists the sessions hosted here, from the host's
// report, and RemovePeer and CloseSession act on this node's connections
// and remember the refusals here.
func TestAdminWithAPlainStore(t *testing.T) {
	var log eventLog
	srv, url := newTestServer(t, &Options{OnEvent: log.add, Store: struct{ Store }{NewMemoryStore()}})
	if srv.dir != nil {
		t.Fatal("the plain store was taken for a Directory")
	}
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)
	alice.send(protocol.Message{State: protocol.PeerStates, Data: json.RawMessage(`{"alice":"connected","bob":"connected"}`)})
	var ss []SessionInfo
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if ss, _ = srv.Sessions(context.Background()); len(ss) == 1 && !ss[0].Reported.IsZero() {
			break
		}
	}
	want := []PeerInfo{{"alice", "connected", true}, {"bob", "connected", true}}
	if len(ss) != 1 || ss[0].Host != "alice" || len(ss[0].Peers) != 2 || ss[0].Peers[0] != want[0] || ss[0].Peers[1] != want[1] {
		t.Fatalf("Sessions() = %+v; want room hosted by alice with %+v", ss, want)
	}
	ctx := context.Background()
	if err := srv.RemovePeer(ctx, "room", "bob"); err != nil {
		t.Fatal(err)
	}
	if _, _, codes := bob.expectClose(); len(codes) != 1 || codes[0] != protocol.CodePeerRemoved {
		t.Errorf("bob got %v before the close, want peer_removed", codes)
	}
	if m := alice.expect(protocol.PeerLeft); m.PeerID != "bob" {
		t.Errorf("alice got PeerLeft for %q", m.PeerID)
	}
	again := dial(t, url)
	again.join(srv, "room", "bob")
	again.expectError(protocol.CodePeerRemoved)
	if err := srv.CloseSession(ctx, "room"); err != nil {
		t.Fatal(err)
	}
	if _, _, codes := alice.expectClose(); len(codes) != 1 || codes[0] != protocol.CodeSessionClosed {
		t.Errorf("alice got %v, want session_closed", codes)
	}
	late := dial(t, url)
	late.join(srv, "room", "dave")
	late.expectError(protocol.CodeSessionClosed)
}
