package p2predis_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// The admin calls of node B act on a room whose members are on node A:
// B lists it with its host's reported states, removes a peer connected to
// A (its host is told, it cannot rejoin on either node), and closes it.
func TestAdminAcrossNodes(t *testing.T) {
	_, rdb := newRedis(t)
	a, b := startNode(t, rdb, 3*time.Second), startNode(t, rdb, 3*time.Second)
	ctx := context.Background()
	const s = "admin-room"
	alice, _ := join(t, a, s, "alice")
	bob, _ := join(t, a, s, "bob")
	dave, _ := join(t, a, s, "dave")
	carol, _ := join(t, b, s, "carol")
	for range 3 {
		alice.expect(protocol.SessionReady)
	}
	alice.send(protocol.Message{State: protocol.PeerStates, Data: json.RawMessage(
		`{"alice":"connected","bob":"connected","carol":"connecting","dave":"connected"}`)})
	bob.conn.Close() // connected to alice, bob drops his WebSocket to A

	want := []p2pstreams.PeerInfo{
		{ID: "alice", State: "connected", Signaling: true},
		{ID: "bob", State: "connected", Signaling: false},
		{ID: "carol", State: "connecting", Signaling: true},
		{ID: "dave", State: "connected", Signaling: true},
	}
	waitListed(t, b, s, "alice", want)

	// Remove dave, connected to A, from B.
	if err := b.srv.RemovePeer(ctx, s, "dave"); err != nil {
		t.Fatal(err)
	}
	if codes := dave.expectClose(); !slices.Equal(codes, []protocol.Code{protocol.CodePeerRemoved}) {
		t.Errorf("dave got %v before the close, want peer_removed", codes)
	}
	if m := alice.expect(protocol.PeerLeft); m.PeerID != "dave" {
		t.Errorf("alice got PeerLeft for %q, want dave", m.PeerID)
	}
	for _, n := range []*node{a, b} {
		again := dial(t, n, "dave")
		again.sendJoin(s)
		again.expectError(protocol.CodePeerRemoved)
	}
	// And bob, who holds no WebSocket: his host drops him.
	if err := b.srv.RemovePeer(ctx, s, "bob"); err != nil {
		t.Fatal(err)
	}
	if m := alice.expect(protocol.PeerLeft); m.PeerID != "bob" {
		t.Errorf("alice got PeerLeft for %q, want bob", m.PeerID)
	}
	waitListed(t, b, s, "alice", []p2pstreams.PeerInfo{want[0], want[2]})
	if err := b.srv.RemovePeer(ctx, "no-such-room", "bob"); !errors.Is(err, p2pstreams.ErrNoSession) {
		t.Errorf("RemovePeer of a room nobody is in: %v, want ErrNoSession", err)
	}

	// Close the room from B: the host on A and carol on B are closed.
	if err := b.srv.CloseSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*peer{alice, carol} {
		if codes := p.expectClose(); !slices.Contains(codes, protocol.CodeSessionClosed) {
			t.Errorf("%s got %v before the close, want session_closed", p.id, codes)
		}
	}
	for _, n := range []*node{a, b} {
		late := dial(t, n, "erin")
		late.sendJoin(s)
		late.expectError(protocol.CodeSessionClosed)
	}
	if err := b.srv.CloseSession(ctx, s); !errors.Is(err, p2pstreams.ErrNoSession) {
		t.Errorf("closing the closed room again: %v, want ErrNoSession", err)
	}
}

// waitListed waits until n lists session s hosted by host with peers want.
func waitListed(t *testing.T, n *node, s p2pstreams.SessionID, host p2pstreams.PeerID, want []p2pstreams.PeerInfo) {
	t.Helper()
	var got []p2pstreams.SessionInfo
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		var err error
		if got, err = n.srv.Sessions(context.Background()); err != nil {
			t.Fatal(err)
		}
		i := slices.IndexFunc(got, func(in p2pstreams.SessionInfo) bool { return in.ID == s })
		if i >= 0 && got[i].Host == host && slices.Equal(got[i].Peers, want) && !got[i].Reported.IsZero() {
			return
		}
	}
	t.Fatalf("Sessions() = %+v; want %q hosted by %q with %+v", got, s, host, want)
}

// expectClose reads until the server closes, and returns the codes of the
// Error messages that came first.
func (p *peer) expectClose() []protocol.Code {
	p.t.Helper()
	var codes []protocol.Code
	for {
		m, err := p.read(10 * time.Second)
		var closed wsutil.ClosedError
		switch {
		case errors.As(err, &closed):
			return codes
		case err != nil:
			p.t.Fatalf("%s: waiting for the close: %v", p.id, err)
		case m.State == protocol.Error:
			codes = append(codes, m.Code)
		}
	}
}

// eventLog collects the events of several nodes, each tagged with its node.
type eventLog struct {
	mu  sync.Mutex
	evs []string
}

func (l *eventLog) on(node string) func(p2pstreams.Event) {
	return func(e p2pstreams.Event) {
		s := fmt.Sprintf("%s: %s %s host=%s", node, e.Type, e.Peer, e.Host)
		if e.Previous != "" {
			s += " previous=" + string(e.Previous)
		}
		l.mu.Lock()
		l.evs = append(l.evs, s)
		l.mu.Unlock()
	}
}

// waitFor waits until n events arrived, and returns them.
func (l *eventLog) waitFor(t *testing.T, n int) []string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		l.mu.Lock()
		got := slices.Clone(l.evs)
		l.mu.Unlock()
		if len(got) >= n {
			return got
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.Fatalf("%d events, want %d:\n%s", len(l.evs), n, strings.Join(l.evs, "\n"))
	return nil
}

// A scripted room on two nodes: each event is reported once in the
// cluster, by the node where it happens, in order; the host change is
// seen by the new host's node although the old host left on the other.
func TestEventsAcrossNodes(t *testing.T) {
	_, rdb := newRedis(t)
	var log eventLog
	a := startNodeWith(t, rdb, p2pstreams.Options{Lease: 3 * time.Second, OnEvent: log.on("A")})
	b := startNodeWith(t, rdb, p2pstreams.Options{Lease: 3 * time.Second, OnEvent: log.on("B")})
	const s = "events-room"

	alice, _ := join(t, a, s, "alice")
	log.waitFor(t, 2)
	bob, _ := join(t, b, s, "bob")
	alice.expect(protocol.SessionReady)
	log.waitFor(t, 3)
	alice.send(protocol.Message{State: protocol.PeerStates, Data: json.RawMessage(`{"alice":"connected","bob":"connected"}`)})
	log.waitFor(t, 4)
	bob.conn.Close() // connected to alice, bob drops his WebSocket to B
	log.waitFor(t, 5)
	alice.send(protocol.Message{State: protocol.PeerLeft, PeerID: "bob"}) // later alice sees him go
	log.waitFor(t, 6)
	carol, _ := join(t, b, s, "carol")
	alice.expect(protocol.SessionReady)
	log.waitFor(t, 7)
	alice.send(protocol.Message{State: protocol.SessionLeave}) // the host leaves, on A
	carol.expect(protocol.HostLeft)
	log.waitFor(t, 9)
	if h := carol.join(s); h != "carol" { // she comes back on B, as the new host
		t.Fatalf("carol rejoined with host %q", h)
	}
	log.waitFor(t, 12)
	dave, _ := join(t, a, s, "dave")
	carol.expect(protocol.SessionReady)
	log.waitFor(t, 13)
	if err := b.srv.RemovePeer(context.Background(), s, "dave"); err != nil { // from B, dave on A
		t.Fatal(err)
	}
	log.waitFor(t, 14)
	dave.expectClose()
	dave.conn.Close()
	log.waitFor(t, 15)
	carol.send(protocol.Message{State: protocol.SessionLeave}) // the last events: any extra one shows before them

	want := []string{
		"A: session_started alice host=alice",
		"A: peer_joined alice host=alice",
		"B: peer_joined bob host=alice",
		"A: peer_connected bob host=alice",
		"B: peer_disconnected bob host=alice",
		"A: peer_left bob host=alice",
		"B: peer_joined carol host=alice",
		"A: peer_left alice host=alice",
		"A: session_ended alice host=alice",
		"B: session_started carol host=carol",
		"B: host_changed carol host=carol previous=alice",
		"B: peer_joined carol host=carol",
		"A: peer_joined dave host=carol",
		"B: peer_removed dave host=carol",
		"A: peer_disconnected dave host=carol",
		"B: peer_left carol host=carol",
		"B: session_ended carol host=carol",
	}
	got := log.waitFor(t, len(want))
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A host that comes back as host of its session after a reset is listed
// without its old report: the links it reported are gone with the session.
func TestAdminListsNoReportOfAnEndedSession(t *testing.T) {
	_, rdb := newRedis(t)
	a, b := startNode(t, rdb, 3*time.Second), startNode(t, rdb, 3*time.Second)
	const s = "reset-room"
	alice, _ := join(t, a, s, "alice")
	join(t, a, s, "bob")
	alice.expect(protocol.SessionReady)
	alice.send(protocol.Message{State: protocol.PeerStates, Data: json.RawMessage(`{"alice":"connected","bob":"connected"}`)})
	waitListed(t, b, s, "alice", []p2pstreams.PeerInfo{{ID: "alice", State: "connected", Signaling: true}, {ID: "bob", State: "connected", Signaling: true}})
	alice.send(protocol.Message{State: protocol.SessionLeave})
	if h := alice.join(s); h != "alice" {
		t.Fatalf("alice rejoined with host %q", h)
	}
	ss, err := b.srv.Sessions(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(ss, func(in p2pstreams.SessionInfo) bool { return in.ID == s })
	if i < 0 || !ss[i].Reported.IsZero() || !slices.Equal(ss[i].Peers, []p2pstreams.PeerInfo{{ID: "alice", State: "joined", Signaling: true}}) {
		t.Fatalf("Sessions() = %+v; want %q with alice joined and no report", ss, s)
	}
}
