package main

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// Two `serve --redis` processes' worth of servers on one Redis act as one:
// a peer joining on the second hears of the host on the first, and the
// host hears of it.
func TestServeRedisNodes(t *testing.T) {
	rs := testenv.Redis(t)
	secret := "serve-redis-secret-0123456789"
	url := "redis://" + rs.Addr + "/0"
	a, _ := serve(t, "--secret", secret, "--redis", url)
	t.Setenv("P2PSTREAMS_REDIS", url) // the environment variable works too
	b, _ := serve(t, "--secret", secret)

	host := joinAt(t, a, secret, "alice")
	if m := read(t, host); m.State != protocol.SessionReady || m.HostPeerID != "alice" {
		t.Fatalf("alice got %+v, want SessionReady as host", m)
	}
	bob := joinAt(t, b, secret, "bob")
	if m := read(t, bob); m.State != protocol.SessionReady || m.HostPeerID != "alice" {
		t.Fatalf("bob got %+v, want SessionReady with host alice (on the other node)", m)
	}
	if m := read(t, host); m.State != protocol.SessionReady || m.PeerID != "bob" {
		t.Fatalf("alice got %+v, want SessionReady for bob", m)
	}
}

func TestServeRedisNeedsSecret(t *testing.T) {
	t.Setenv("P2PSTREAMS_SECRET", "")
	t.Setenv("P2PSTREAMS_REDIS", "redis://127.0.0.1:1/0")
	if errOut, err := serveErr(t); err == nil || !strings.Contains(err.Error()+errOut, "--secret") {
		t.Errorf("--redis without a secret: err %v, stderr %q; want a refusal naming --secret", err, errOut)
	}
	t.Setenv("P2PSTREAMS_SECRET", "serve-redis-secret-0123456789")
	t.Setenv("P2PSTREAMS_REDIS", "http://not-redis")
	if errOut, err := serveErr(t); err == nil || !strings.Contains(err.Error()+errOut, "--redis") {
		t.Errorf("a bad --redis URL: err %v, stderr %q; want a refusal naming --redis", err, errOut)
	}
}

// joinAt dials the server at base and sends SessionJoin for peer p of "lobby".
func joinAt(t *testing.T, base, secret string, p protocol.PeerID) net.Conn {
	t.Helper()
	return joinFor(t, base, secret, p, time.Minute)
}

// joinFor is joinAt with a token that expires in ttl.
func joinFor(t *testing.T, base, secret string, p protocol.PeerID, ttl time.Duration) net.Conn {
	t.Helper()
	tok, err := token.Issue([]byte(secret), token.Claims{Session: "lobby", Peer: p, Expires: time.Now().Add(ttl).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"p2p/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	join, _ := json.Marshal(protocol.Message{Type: protocol.Type, State: protocol.SessionJoin, Token: tok})
	if err := wsutil.WriteClientText(conn, join); err != nil {
		t.Fatal(err)
	}
	return conn
}

// The admin API of one `serve --redis` node acts on a room whose members
// are on the other: it lists it, and removes a peer connected there.
func TestServeRedisAdminAcrossNodes(t *testing.T) {
	rs := testenv.Redis(t)
	url := "redis://" + rs.Addr + "/0"
	a, _ := serve(t, "--secret", testSecret, "--redis", url, "--admin-secret", adminSecret)
	b, _ := serve(t, "--secret", testSecret, "--redis", url, "--admin-secret", adminSecret)
	alice := joinAt(t, a, testSecret, "alice")
	read(t, alice)
	bob := joinAt(t, a, testSecret, "bob")
	read(t, bob)
	read(t, alice)

	st, body := adminDo(t, "GET", b+"admin/api/sessions", adminSecret)
	j, _ := json.Marshal(body)
	if st != http.StatusOK || !strings.Contains(string(j), `"host":"alice"`) || !strings.Contains(string(j), `"id":"bob"`) {
		t.Errorf("node b's sessions: %d %s; want lobby hosted by alice on node a, with bob", st, j)
	}
	if st, _ := adminDo(t, "DELETE", b+"admin/api/sessions/lobby/peers/bob", adminSecret); st != http.StatusNoContent {
		t.Fatalf("remove bob through node b: %d", st)
	}
	if m := read(t, bob); m.Code != protocol.CodePeerRemoved {
		t.Errorf("bob got %+v, want peer_removed", m)
	}
	if m := read(t, alice); m.State != protocol.PeerLeft || m.PeerID != "bob" {
		t.Errorf("alice got %+v, want PeerLeft bob", m)
	}
	if m := read(t, joinAt(t, b, testSecret, "bob")); m.Code != protocol.CodePeerRemoved {
		t.Errorf("bob joining node b: %+v, want peer_removed", m)
	}
}
