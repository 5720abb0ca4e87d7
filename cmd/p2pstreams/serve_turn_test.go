package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/pion/turn/v5"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
	"github.com/p2pstreams/p2pstreams/turncred"
)

// joinServe joins the serve at base as peer and returns its SessionReady.
func joinServe(t *testing.T, base, secret string, peer protocol.PeerID, ttl time.Duration) protocol.Message {
	t.Helper()
	tok, err := token.Issue([]byte(secret), token.Claims{Session: "lobby", Peer: peer, Expires: time.Now().Add(ttl).Unix()})
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
	m := read(t, conn)
	if m.State != protocol.SessionReady {
		t.Fatalf("got %+v, want SessionReady", m)
	}
	return m
}

func iceServersOf(t *testing.T, m protocol.Message) []p2pstreams.ICEServer {
	t.Helper()
	var s []p2pstreams.ICEServer
	if err := json.Unmarshal(m.ICEServers, &s); err != nil {
		t.Fatalf("iceServers %s: %v", m.ICEServers, err)
	}
	return s
}

// serve --turn-addr: SessionReady carries the embedded server's STUN entry
// and a TURN entry whose credential allocates on it, expires within
// --turn-ttl and never after the token.
func TestServeEmbeddedTURN(t *testing.T) {
	const secret, turnSecret = "serve-turn-secret-0123456789", "turn-shared-secret-0123"
	base, _ := serve(t, "--secret", secret, "--turn-addr", "127.0.0.1:0", "--turn-secret", turnSecret, "--turn-ttl", "10m")
	s := iceServersOf(t, joinServe(t, base, secret, "alice", time.Hour))
	if len(s) != 2 || !strings.HasPrefix(s[0].URLs[0], "stun:127.0.0.1:") || s[1].Username == "" {
		t.Fatalf("iceServers %+v", s)
	}
	exp, user, err := turncred.Parse(s[1].Username)
	if err != nil || user != "lobby/alice" || time.Until(exp) > 10*time.Minute || time.Until(exp) < 9*time.Minute {
		t.Fatalf("username %q: expiry in %v, user %q, %v", s[1].Username, time.Until(exp), user, err)
	}
	if err := turncred.Check([]byte(turnSecret), s[1].Username, s[1].Credential, time.Now()); err != nil {
		t.Fatal(err)
	}
	// A token shorter than the TTL bounds the credential.
	short := iceServersOf(t, joinServe(t, base, secret, "bob", time.Minute))
	if exp, _, _ := turncred.Parse(short[1].Username); time.Until(exp) > time.Minute {
		t.Errorf("credential outlives the token: expires in %v", time.Until(exp))
	}

	// The credential allocates on the embedded server.
	addr := strings.TrimPrefix(strings.Split(s[1].URLs[0], "?")[0], "turn:")
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tc, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: s[1].Username, Password: s[1].Credential, Realm: "p2pstreams", RTO: 100 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := tc.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := tc.Allocate()
	if err != nil {
		t.Fatalf("allocate with SessionReady's credential: %v", err)
	}
	relay.Close()
}

// serve --turn-url --turn-secret: the external server's URLs with
// credentials of its secret; no TURN server is started.
func TestServeExternalTURN(t *testing.T) {
	const secret, turnSecret = "serve-turn-secret-0123456789", "coturn-static-auth-secret"
	base, _ := serve(t, "--secret", secret, "--turn-url", "stun:turn.example:3478, turn:turn.example:3478?transport=udp", "--turn-secret", turnSecret)
	s := iceServersOf(t, joinServe(t, base, secret, "alice", time.Hour))
	if len(s) != 2 || s[0].URLs[0] != "stun:turn.example:3478" || s[1].URLs[0] != "turn:turn.example:3478?transport=udp" {
		t.Fatalf("iceServers %+v", s)
	}
	if err := turncred.Check([]byte(turnSecret), s[1].Username, s[1].Credential, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// Without TURN settings, SessionReady carries no ICE servers.
func TestServeNoTURN(t *testing.T) {
	const secret = "serve-turn-secret-0123456789"
	base, _ := serve(t, "--secret", secret)
	if m := joinServe(t, base, secret, "alice", time.Hour); string(m.ICEServers) != "[]" {
		t.Fatalf("iceServers %s", m.ICEServers)
	}
}

func TestServeTURNRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--turn-url", "turn:x:3478"}, "--turn-secret"},
		{[]string{"--turn-url", "turn:x:3478", "--turn-secret", "short"}, "16 bytes"},
		{[]string{"--turn-url", "http://x", "--turn-secret", "0123456789abcdef"}, "not a stun:"},
		{[]string{"--turn-url", "turn:x:3478", "--turn-addr", "127.0.0.1:0", "--turn-secret", "0123456789abcdef"}, "exclude"},
		{[]string{"--turn-addr", ":0"}, "PublicIP"},
		{[]string{"--turn-addr", "127.0.0.1:0", "--turn-public-ip", "nope"}, "not an IP"},
		{[]string{"--turn-addr", "127.0.0.1:0", "--turn-ports", "9-"}, "MIN-MAX"},
		{[]string{"--turn-addr", "127.0.0.1:0", "--turn-ports", "9-5"}, "range"},
	} {
		var out, errOut strings.Builder
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...), &out, &errOut)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v; want an error about %q", tc.args, err, tc.want)
		}
	}
}

// A relayed flood does not starve signaling: while a TURN client floods its
// allocation (bounded: 20000 datagrams of 1 KiB), peers keep joining.
func TestServeTURNFloodKeepsSignaling(t *testing.T) {
	const secret, turnSecret = "serve-turn-secret-0123456789", "turn-shared-secret-0123"
	base, _ := serve(t, "--secret", secret, "--turn-addr", "127.0.0.1:0", "--turn-secret", turnSecret)
	s := iceServersOf(t, joinServe(t, base, secret, "flooder", time.Hour))
	addr := strings.TrimPrefix(strings.Split(s[1].URLs[0], "?")[0], "turn:")
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	tc, err := turn.NewClient(&turn.ClientConfig{STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: s[1].Username, Password: s[1].Credential, Realm: "p2pstreams", RTO: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer tc.Close()
	if err := tc.Listen(); err != nil {
		t.Fatal(err)
	}
	relay, err := tc.Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	sink, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sink.Close()
	var got atomic.Int64
	go func() {
		buf := make([]byte, 2048)
		for {
			if _, _, err := sink.ReadFrom(buf); err != nil {
				return
			}
			got.Add(1)
		}
	}()
	flooded := make(chan struct{})
	go func() {
		defer close(flooded)
		p := make([]byte, 1024)
		for range 20000 {
			relay.WriteTo(p, sink.LocalAddr())
		}
	}()
	for i := range 30 {
		joinServe(t, base, secret, protocol.PeerID(fmt.Sprintf("p%d", i)), time.Hour) // fails the test if a join does not complete
	}
	<-flooded
	if got.Load() == 0 {
		t.Fatal("the flood never reached the sink: the test measured nothing")
	}
	t.Logf("%d of 20000 flood datagrams relayed meanwhile", got.Load())
}
