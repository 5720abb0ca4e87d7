package p2pstreams

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// A client reports its host unreachable, but the host's code answers the
// probe: nothing changes, and the client can reach the host as before.
func TestHostProbeAnswered(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{ProbeTimeout: 300 * time.Millisecond})
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)

	bob.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "alice"})
	alice.expect(protocol.HostProbe)
	alice.send(protocol.Message{State: protocol.HostAlive})
	// A second report so soon is refused, and probes nobody.
	bob.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "alice"})
	bob.expectError(protocol.CodeRateLimited)
	time.Sleep(400 * time.Millisecond) // past the probe's deadline: it was answered
	bob.send(protocol.Message{State: protocol.SdpAnswer, To: "alice", Data: json.RawMessage(`{"n":1}`)})
	if m := alice.expect(protocol.SdpAnswer); m.From != "bob" {
		t.Fatalf("alice got %+v", m)
	}
	if st := srv.Stats(); st.HostResets != 0 {
		t.Fatalf("HostResets = %d after an answered probe", st.HostResets)
	}
	// Past the bound, the client may report again, and the host is probed again.
	bob.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "alice"})
	alice.expect(protocol.HostProbe)
	alice.send(protocol.Message{State: protocol.HostAlive})
}

// A host whose code does not answer (a frozen tab: its socket is open and
// its browser would answer pings) is replaced: the session is reset, the
// clients are told at once, and the old host's connection is closed with
// host_unresponsive, so that it comes back as a client of the new host.
func TestSilentHostIsReplaced(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{ProbeTimeout: 200 * time.Millisecond})
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	carol, _ := join(t, srv, url, "room", "carol")
	alice.expect(protocol.SessionReady)
	alice.expect(protocol.SessionReady)

	reported := time.Now()
	bob.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "alice"})
	carol.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "alice"}) // absorbed by the same probe
	for _, p := range []*testPeer{bob, carol} {
		if m := p.expect(protocol.HostLeft); m.HostPeerID != "alice" || m.SessionID != "room" {
			t.Fatalf("HostLeft %+v", m)
		}
	}
	t.Logf("clients told %v after the report (ProbeTimeout 200ms)", time.Since(reported).Round(time.Millisecond))
	alice.expect(protocol.HostProbe)
	status, reason, codes := alice.expectClose()
	if status != ws.StatusPolicyViolation || reason != string(protocol.CodeHostUnresponsive) || len(codes) != 1 || codes[0] != protocol.CodeHostUnresponsive {
		t.Fatalf("old host closed with %d %q after errors %v", status, reason, codes)
	}
	if st := srv.Stats(); st.HostResets != 1 {
		t.Fatalf("HostResets = %d, want 1", st.HostResets)
	}

	// One host after: the first back hosts, the old host comes back a client.
	bob.join(srv, "room", "bob")
	if m := bob.expect(protocol.SessionReady); m.HostPeerID != "bob" {
		t.Fatalf("bob rejoined under %q", m.HostPeerID)
	}
	alice2, m := join(t, srv, url, "room", "alice")
	if m.HostPeerID != "bob" {
		t.Fatalf("the old host rejoined under %q, want bob", m.HostPeerID)
	}
	if m := bob.expect(protocol.SessionReady); m.PeerID != "alice" {
		t.Fatalf("bob got %+v", m)
	}
	bob.send(protocol.Message{State: protocol.SdpOffer, To: "alice", Data: json.RawMessage(`{}`)})
	alice2.expect(protocol.SdpOffer)
}

// Reports are bounded and checked: no member can make the server probe in
// a loop, reset another session, or report while not joined.
func TestHostUnreachableRefusals(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{ProbeTimeout: time.Hour})
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)

	stranger := dial(t, url)
	stranger.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "alice"})
	stranger.expectError(protocol.CodeNotJoined)
	stranger.sendRaw(`{"type":"Connection","state":"HostUnreachable"}`)
	stranger.expectError(protocol.CodeBadMessage)
	alice.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "alice"})
	alice.expectError(protocol.CodeBadMessage)
	// A report naming someone else than the reporter's host is ignored
	// (a former host: the session moved on): it costs no probe.
	bob.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "zed"})
	bob.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "alice"})
	alice.expect(protocol.HostProbe)
	alice.send(protocol.Message{State: protocol.HostAlive})
	// One report per ProbeTimeout per client, one probe per ProbeTimeout per
	// host, whoever reports.
	for range 5 {
		bob.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "alice"})
		bob.expectError(protocol.CodeRateLimited)
	}
	carol, _ := join(t, srv, url, "room", "carol")
	alice.expect(protocol.SessionReady)
	carol.send(protocol.Message{State: protocol.HostUnreachable, HostPeerID: "alice"})
	alice.send(protocol.Message{State: protocol.SessionLeave})
	// The host leaves before anyone was probed again: its clients are told.
	for _, p := range []*testPeer{bob, carol} {
		p.expect(protocol.HostLeft)
	}
	// An unasked HostAlive is harmless.
	alice.send(protocol.Message{State: protocol.HostAlive})
	alice.join(srv, "room", "alice")
	if m := alice.expect(protocol.SessionReady); m.HostPeerID != "alice" {
		t.Fatalf("alice got %+v (a probe must not have reached her)", m)
	}
}

// A client healing its link to its host, away from the server, asks on a
// fresh connection whether its host is still served, without joining: a bad
// token is refused; a live host is probed and answered HostAlive; a host no
// node serves (its node died: only its place in the store is left) resets
// the session, answered HostLeft, and the next joiner hosts.
func TestHostCheck(t *testing.T) {
	checkNoLeaks(t)
	store := NewMemoryStore()
	srv, url := newTestServer(t, &Options{Store: store, ProbeTimeout: time.Hour})
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)
	tok, err := srv.Token("room", "bob", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}

	forged := dial(t, url)
	forged.send(protocol.Message{State: protocol.HostCheck, Token: tok + "x", HostPeerID: "alice"})
	forged.expectError(protocol.CodeBadToken)
	forged.sendRaw(`{"type":"Connection","state":"HostCheck","token":"t"}`)
	forged.expectError(protocol.CodeBadMessage)

	// The answer waits for the probe's outcome: alice answers it.
	check := dial(t, url)
	check.send(protocol.Message{State: protocol.HostCheck, Token: tok, HostPeerID: "alice"})
	alice.expect(protocol.HostProbe)
	alice.send(protocol.Message{State: protocol.HostAlive})
	if m := check.expect(protocol.HostAlive); m.HostPeerID != "alice" || m.SessionID != "room" {
		t.Fatalf("HostCheck answered %+v", m)
	}
	// A check while that answer is fresh (within ProbeTimeout) probes
	// nobody: it is answered at once.
	again := dial(t, url)
	again.send(protocol.Message{State: protocol.HostCheck, Token: tok, HostPeerID: "alice"})
	again.expect(protocol.HostAlive)
	check.send(protocol.Message{State: protocol.HostCheck, Token: tok, HostPeerID: "alice"})
	check.expectError(protocol.CodeRateLimited) // one check per connection
	bob.send(protocol.Message{State: protocol.HostCheck, Token: tok, HostPeerID: "alice"})
	bob.expectError(protocol.CodeAlreadyJoined)
	if st := srv.Stats(); st.HostResets != 0 {
		t.Fatalf("HostResets = %d after checks of a live host", st.HostResets)
	}

	// A host whose node died: in the store, served by no node.
	if _, err := store.Join(context.Background(), "hall", "zed", JoinOptions{MaxPeers: 8, Lease: time.Hour, Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	tok, err = srv.Token("hall", "bob", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	check = dial(t, url)
	check.send(protocol.Message{State: protocol.HostCheck, Token: tok, HostPeerID: "zed"})
	if m := check.expect(protocol.HostLeft); m.HostPeerID != "zed" || m.SessionID != "hall" {
		t.Fatalf("HostCheck answered %+v", m)
	}
	if st := srv.Stats(); st.HostResets != 1 || st.HostChecks != 3 {
		t.Fatalf("HostResets = %d, HostChecks = %d, want 1 and 3", st.HostResets, st.HostChecks)
	}
	check.join(srv, "hall", "bob")
	if m := check.expect(protocol.SessionReady); m.HostPeerID != "bob" {
		t.Fatalf("after the reset bob joined under %q", m.HostPeerID)
	}
}

// A HostCheck of a host whose node is alive but whose code does not run (a
// frozen tab) is answered by the probe's outcome: the probe goes
// unanswered, the session is reset, and the check gets HostLeft (not
// HostAlive, which would leave the client waiting out its heal window).
// Checks that come while the probe waits get the same answer.
func TestHostCheckOfSilentHost(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{ProbeTimeout: 200 * time.Millisecond})
	alice, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)
	var checks []*testPeer
	for _, p := range []PeerID{"bob", "carol"} {
		tok, err := srv.Token("room", p, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		c := dial(t, url)
		c.send(protocol.Message{State: protocol.HostCheck, Token: tok, HostPeerID: "alice"})
		checks = append(checks, c)
	}
	alice.expect(protocol.HostProbe) // and never answers
	for _, c := range checks {
		if m := c.expect(protocol.HostLeft); m.HostPeerID != "alice" || m.SessionID != "room" {
			t.Fatalf("HostCheck answered %+v", m)
		}
	}
	bob.expect(protocol.HostLeft)
	if _, reason, _ := alice.expectClose(); reason != string(protocol.CodeHostUnresponsive) {
		t.Fatalf("the silent host closed with %q", reason)
	}
	if st := srv.Stats(); st.HostResets != 1 {
		t.Fatalf("HostResets = %d, want 1", st.HostResets)
	}
	// The session was reset before the answer: the checker hosts now.
	checks[0].join(srv, "room", "bob")
	if m := checks[0].expect(protocol.SessionReady); m.HostPeerID != "bob" {
		t.Fatalf("after HostLeft bob joined under %q", m.HostPeerID)
	}
}

// A host that leaves while a HostCheck waits for its probe is gone: the
// check gets HostLeft, once the session is reset.
func TestHostCheckHostLeavesDuringProbe(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{ProbeTimeout: time.Hour})
	alice, _ := join(t, srv, url, "room", "alice")
	join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)
	tok, err := srv.Token("room", "bob", time.Hour, nil)
	if err != nil {
		t.Fatal(err)
	}
	check := dial(t, url)
	check.send(protocol.Message{State: protocol.HostCheck, Token: tok, HostPeerID: "alice"})
	alice.expect(protocol.HostProbe)
	alice.nc.Close()
	check.expect(protocol.HostLeft)
	check.join(srv, "room", "bob")
	if m := check.expect(protocol.SessionReady); m.HostPeerID != "bob" {
		t.Fatalf("after HostLeft bob joined under %q", m.HostPeerID)
	}
}

// A host removed by the operator is not alive, whatever its connection
// does: HostCheck answers HostLeft without probing it (with ProbeTimeout an
// hour, a probe would keep the check waiting). A removed checker gets its
// own refusal.
func TestHostCheckRemoved(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{ProbeTimeout: time.Hour})
	alice, _ := join(t, srv, url, "room", "alice")
	join(t, srv, url, "room", "bob")
	alice.expect(protocol.SessionReady)
	// What RemovePeer does first, before it closes the host's connection
	// (or when that connection is on another node).
	for _, p := range []PeerID{"alice", "carol"} {
		if err := srv.refusals.Refuse(context.Background(), "room", p, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		peer PeerID
		want protocol.State
	}{{"bob", protocol.HostLeft}, {"carol", protocol.Error}} {
		tok, err := srv.Token("room", tc.peer, time.Hour, nil)
		if err != nil {
			t.Fatal(err)
		}
		check := dial(t, url)
		check.send(protocol.Message{State: protocol.HostCheck, Token: tok, HostPeerID: "alice"})
		if m := check.next(); m.State != tc.want || tc.want == protocol.Error && m.Code != protocol.CodePeerRemoved {
			t.Fatalf("%s's HostCheck of a removed host answered %+v, want %s", tc.peer, m, tc.want)
		}
	}
	if st := srv.Stats(); st.HostResets != 0 {
		t.Fatalf("HostResets = %d: a check of a removed host reset the session", st.HostResets)
	}
}
