package p2pstreams

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// TestSessionReadyICEServers: every SessionReady carries iceServers: the
// Options.ICEServers entries, made afresh for its receiver and the token's
// expiry, then the frame config's ice_servers. The host gets its own with
// each joiner's SessionReady.
func TestSessionReadyICEServers(t *testing.T) {
	checkNoLeaks(t)
	var calls atomic.Int64
	srv, url := newTestServer(t, &Options{
		ICEServers: func(s SessionID, p PeerID, exp time.Time) []ICEServer {
			n := calls.Add(1)
			return []ICEServer{{URLs: []string{"turn:turn.test:3478"}, Username: fmt.Sprintf("%d:%s/%s#%d", exp.Unix(), s, p, n), Credential: "c"}}
		},
	})
	cfg := FrameConfig{ICEServers: []ICEServer{{URLs: []string{"stun:stun.test:3478"}}}}
	joinWith := func(p PeerID, ttl time.Duration) (*testPeer, protocol.Message, int64) {
		tp := dial(t, url)
		tok, err := srv.Token("room", p, ttl, cfg)
		if err != nil {
			t.Fatal(err)
		}
		cl, _ := token.Verify(testSecret, tok, time.Now())
		exp := cl.Expires
		tp.send(protocol.Message{State: protocol.SessionJoin, Token: tok})
		return tp, tp.expect(protocol.SessionReady), exp
	}
	servers := func(m protocol.Message) []ICEServer {
		t.Helper()
		var out []ICEServer
		if err := json.Unmarshal(m.ICEServers, &out); err != nil {
			t.Fatalf("iceServers %s: %v", m.ICEServers, err)
		}
		return out
	}
	host, r, hostExp := joinWith("alice", time.Hour)
	got := servers(r)
	if len(got) != 2 || got[0].Username != fmt.Sprintf("%d:room/alice#1", hostExp) || got[1].URLs[0] != "stun:stun.test:3478" {
		t.Fatalf("host's own SessionReady: %s", r.ICEServers)
	}
	_, r, bobExp := joinWith("bob", 2*time.Hour)
	if got := servers(r); len(got) != 2 || got[0].Username != fmt.Sprintf("%d:room/bob#2", bobExp) {
		t.Fatalf("bob's SessionReady: %s", r.ICEServers)
	}
	r = host.expect(protocol.SessionReady)
	if got := servers(r); r.PeerID != "bob" || len(got) != 2 || got[0].Username != fmt.Sprintf("%d:room/alice#3", hostExp) || got[1].URLs[0] != "stun:stun.test:3478" {
		t.Fatalf("host's SessionReady for bob: %s %s", r.PeerID, r.ICEServers)
	}
}

// TestSessionReadyICEServersDefault: without Options.ICEServers, the
// frame config's ice_servers, or an empty array.
func TestSessionReadyICEServersDefault(t *testing.T) {
	srv, url := newTestServer(t, nil)
	host, r := join(t, srv, url, "room", "alice")
	if string(r.ICEServers) != "[]" {
		t.Fatalf("iceServers %s", r.ICEServers)
	}
	_, r = join(t, srv, url, "room", "bob")
	if string(r.ICEServers) != "[]" {
		t.Fatalf("iceServers %s", r.ICEServers)
	}
	if r := host.expect(protocol.SessionReady); string(r.ICEServers) != "[]" {
		t.Fatalf("host: iceServers %s", r.ICEServers)
	}
}
