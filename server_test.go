package p2pstreams

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

func TestNewServerNeedsSecret(t *testing.T) {
	for _, o := range []*Options{nil, {}, {Secret: []byte("short")}} {
		if _, err := NewServer(o); err != ErrNoSecret {
			t.Errorf("NewServer(%v) = %v, want ErrNoSecret", o, err)
		}
	}
}

func TestJoinOrderAndHost(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, nil)
	host, r := join(t, srv, url, "room", "alice")
	if r.PeerID != "alice" || r.HostPeerID != "alice" || r.SessionID != "room" {
		t.Fatalf("first joiner got %+v, want to be host", r)
	}
	_, r = join(t, srv, url, "room", "bob")
	if r.PeerID != "bob" || r.HostPeerID != "alice" {
		t.Fatalf("second joiner got %+v, want host alice", r)
	}
	if r := host.expect(protocol.SessionReady); r.PeerID != "bob" || r.HostPeerID != "alice" {
		t.Fatalf("host got %+v, want SessionReady for bob", r)
	}
	_, r = join(t, srv, url, "other", "bob")
	if r.HostPeerID != "bob" {
		t.Fatalf("bob in another session got %+v, want to host it", r)
	}
}

func TestConfigComesBackFromToken(t *testing.T) {
	srv, url := newTestServer(t, nil)
	tok, err := srv.Token("room", "alice", time.Hour, map[string]any{"keepCableConnection": true})
	if err != nil {
		t.Fatal(err)
	}
	p := dial(t, url)
	p.send(protocol.Message{State: protocol.SessionJoin, Token: tok})
	if r := p.expect(protocol.SessionReady); string(r.Config) != `{"keepCableConnection":true}` {
		t.Fatalf("config = %s", r.Config)
	}
}

func TestRoutingIsTargetedAndStamped(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, nil)
	host, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	host.expect(protocol.SessionReady)
	carol, _ := join(t, srv, url, "room", "carol")
	host.expect(protocol.SessionReady)

	offer := json.RawMessage(`{"type":"offer","sdp":"v=0 for bob"}`)
	host.send(protocol.Message{State: protocol.SdpOffer, To: "bob", Data: offer})
	got := bob.expect(protocol.SdpOffer)
	if got.From != "alice" || got.To != "bob" || string(got.Data) != string(offer) {
		t.Fatalf("bob got %+v", got)
	}
	bob.send(protocol.Message{State: protocol.SdpAnswer, To: "alice", Data: json.RawMessage(`{"type":"answer"}`)})
	if got := host.expect(protocol.SdpAnswer); got.From != "bob" {
		t.Fatalf("answer stamped %q, want bob", got.From)
	}
	bob.send(protocol.Message{State: protocol.IceCandidate, To: "alice", Data: json.RawMessage(`{"candidate":"c1"}`)})
	if got := host.expect(protocol.IceCandidate); got.From != "bob" || string(got.Data) != `{"candidate":"c1"}` {
		t.Fatalf("candidate %+v", got)
	}

	// A sender cannot pose as someone else.
	bob.sendRaw(`{"type":"Connection","state":"IceCandidate","to":"alice","from":"carol","data":{}}`)
	bob.expectError(protocol.CodeBadMessage)

	// Carol saw none of the above: the first thing she gets is this one.
	host.send(protocol.Message{State: protocol.SdpOffer, To: "carol", Data: json.RawMessage(`{"sentinel":true}`)})
	if got := carol.expect(protocol.SdpOffer); string(got.Data) != `{"sentinel":true}` {
		t.Fatalf("carol got %+v first", got)
	}
	if st := srv.Stats(); st.Relayed != 4 || st.Joins != 3 || st.Hosts != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRefusedInputs(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{MaxPeers: 2})
	host, _ := join(t, srv, url, "room", "alice")
	p := dial(t, url)

	// Before joining.
	p.send(protocol.Message{State: protocol.SdpOffer, To: "alice", Data: json.RawMessage(`{}`)})
	p.expectError(protocol.CodeNotJoined)
	p.send(protocol.Message{State: protocol.SessionLeave})
	p.expectError(protocol.CodeNotJoined)

	cases := []struct {
		name, raw string
		code      protocol.Code
	}{
		{"malformed", `{"type":`, protocol.CodeBadMessage},
		{"not an object", `[1,2]`, protocol.CodeBadMessage},
		{"unknown type", `{"type":"Data","state":"SessionJoin"}`, protocol.CodeUnknownState},
		{"unknown state", `{"type":"Connection","state":"Bogus"}`, protocol.CodeUnknownState},
		{"server-only state", `{"type":"Connection","state":"SessionReady"}`, protocol.CodeUnknownState},
		{"join without token", `{"type":"Connection","state":"SessionJoin"}`, protocol.CodeBadMessage},
		{"garbage token", `{"type":"Connection","state":"SessionJoin","token":"x.y"}`, protocol.CodeBadToken},
		{"offer without data", `{"type":"Connection","state":"SdpOffer","to":"alice"}`, protocol.CodeBadMessage},
		{"id too long", `{"type":"Connection","state":"SdpOffer","to":"` + strings.Repeat("x", 65) + `","data":{}}`, protocol.CodeBadMessage},
	}
	for _, c := range cases {
		p.sendRaw(c.raw)
		if m := p.expect(protocol.Error); m.Code != c.code {
			t.Errorf("%s: got %s (%s), want %s", c.name, m.Code, m.Text, c.code)
		}
	}
	if err := wsutil.WriteClientBinary(p.nc, []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	p.expectError(protocol.CodeBadMessage)

	// Tokens: forged, expired.
	forged, _ := token.Issue([]byte("another secret, 32 bytes long..."), token.Claims{Session: "room", Peer: "mallory", Expires: time.Now().Add(time.Hour).Unix()})
	p.send(protocol.Message{State: protocol.SessionJoin, Token: forged})
	p.expectError(protocol.CodeBadToken)
	expired, _ := token.Issue(testSecret, token.Claims{Session: "room", Peer: "mallory", Expires: time.Now().Add(-time.Second).Unix()})
	p.send(protocol.Message{State: protocol.SessionJoin, Token: expired})
	p.expectError(protocol.CodeTokenExpired)

	// A peer id that is connected already; then a full session.
	p.join(srv, "room", "alice")
	p.expectError(protocol.CodePeerConnected)
	join(t, srv, url, "room", "bob")
	host.expect(protocol.SessionReady)
	p.join(srv, "room", "carol")
	p.expectError(protocol.CodeSessionFull)

	// Joined elsewhere, p cannot reach a peer of another session, nor join twice.
	p.join(srv, "elsewhere", "carol")
	p.expect(protocol.SessionReady)
	p.send(protocol.Message{State: protocol.SdpOffer, To: "alice", Data: json.RawMessage(`{}`)})
	p.expectError(protocol.CodePeerNotFound)
	p.join(srv, "elsewhere", "dave")
	p.expectError(protocol.CodeAlreadyJoined)
	// carol hosts "elsewhere": reporting an unknown peer gone is no error,
	// so the next thing p hears is the answer to the bad message after it.
	p.send(protocol.Message{State: protocol.PeerLeft, PeerID: "x"})
	p.sendRaw(`{`)
	p.expectError(protocol.CodeBadMessage)
	_ = host
}
