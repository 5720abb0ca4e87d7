package p2pnats_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/redis/go-redis/v9"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/p2predis"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

var secret = []byte("nats test secret, shared by both nodes")

// Two server nodes with the Redis Store and the NATS Broker: a host on one,
// a client on the other, negotiating; a message for nobody is peer_not_found
// (NATS's "no responders"); a HostCheck's probe and its answer cross nodes.
func TestServerNodesOnNATS(t *testing.T) {
	rs, ns := testenv.Redis(t), testenv.NATS(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	node := func() string {
		srv, err := p2pstreams.NewServer(&p2pstreams.Options{
			Secret: secret, Store: p2predis.NewStore(rdb, nil), Broker: newBroker(t, ns),
		})
		if err != nil {
			t.Fatal(err)
		}
		hs := httptest.NewServer(srv)
		t.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			srv.Shutdown(ctx)
			hs.Close()
		})
		return "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/"
	}
	a, b := node(), node()

	alice := dial(t, a, "lobby", "alice")
	if m := alice.next(); m.State != protocol.SessionReady || m.HostPeerID != "alice" {
		t.Fatalf("alice got %+v", m)
	}
	bob := dial(t, b, "lobby", "bob")
	if m := bob.next(); m.State != protocol.SessionReady || m.HostPeerID != "alice" {
		t.Fatalf("bob got %+v", m)
	}
	if m := alice.next(); m.State != protocol.SessionReady || m.PeerID != "bob" {
		t.Fatalf("alice got %+v, want SessionReady for bob", m)
	}
	alice.send(protocol.Message{State: protocol.SdpOffer, To: "bob", Data: json.RawMessage(`{"sdp":"o"}`)})
	if m := bob.next(); m.State != protocol.SdpOffer || m.From != "alice" || string(m.Data) != `{"sdp":"o"}` {
		t.Fatalf("bob got %+v", m)
	}
	bob.send(protocol.Message{State: protocol.SdpAnswer, To: "alice", Data: json.RawMessage(`{"sdp":"a"}`)})
	if m := alice.next(); m.State != protocol.SdpAnswer || m.From != "bob" {
		t.Fatalf("alice got %+v", m)
	}
	alice.send(protocol.Message{State: protocol.SdpOffer, To: "nobody", Data: json.RawMessage(`{}`)})
	if m := alice.next(); m.State != protocol.Error || m.Code != protocol.CodePeerNotFound {
		t.Fatalf("alice got %+v, want peer_not_found", m)
	}
	// A HostCheck on b for alice: the probe crosses to a, and its outcome
	// comes back on the check's reply topic.
	c, _, _, err := ws.Dial(context.Background(), b)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	check := &wsPeer{t: t, c: c}
	tok, err := token.Issue(secret, token.Claims{Session: "lobby", Peer: "bob", Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	check.send(protocol.Message{State: protocol.HostCheck, Token: tok, HostPeerID: "alice"})
	if m := alice.next(); m.State != protocol.HostProbe {
		t.Fatalf("alice got %+v, want HostProbe", m)
	}
	alice.send(protocol.Message{State: protocol.HostAlive})
	if m := check.next(); m.State != protocol.HostAlive || m.HostPeerID != "alice" {
		t.Fatalf("HostCheck answered %+v, want HostAlive", m)
	}
	alice.send(protocol.Message{State: protocol.SessionLeave})
	if m := bob.next(); m.State != protocol.HostLeft {
		t.Fatalf("bob got %+v, want HostLeft", m)
	}
}

type wsPeer struct {
	t *testing.T
	c net.Conn
}

// dial connects to url and sends SessionJoin for peer p of session s.
func dial(t *testing.T, url string, s p2pstreams.SessionID, p p2pstreams.PeerID) *wsPeer {
	t.Helper()
	c, _, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	tok, err := token.Issue(secret, token.Claims{Session: s, Peer: p, Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	wp := &wsPeer{t: t, c: c}
	wp.send(protocol.Message{State: protocol.SessionJoin, Token: tok})
	return wp
}

func (p *wsPeer) send(m protocol.Message) {
	p.t.Helper()
	m.Type = protocol.Type
	b, _ := json.Marshal(m)
	if err := wsutil.WriteClientText(p.c, b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *wsPeer) next() protocol.Message {
	p.t.Helper()
	p.c.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := wsutil.ReadServerText(p.c)
	if err != nil {
		p.t.Fatal(err)
	}
	var m protocol.Message
	if err := json.Unmarshal(b, &m); err != nil {
		p.t.Fatal(err)
	}
	return m
}
