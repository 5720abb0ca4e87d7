package p2pstreams

import (
	"context"
	"encoding/json"
	"net"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// pipePeer connects a client to srv over an in-memory pipe, bypassing HTTP,
// so that tests can run inside a synctest bubble with a fake clock.
type pipePeer struct {
	t  *testing.T
	nc net.Conn
}

func newPipePeer(t *testing.T, srv *Server) *pipePeer {
	client, server := net.Pipe()
	c := newConn(srv, server)
	if !srv.add(c) {
		t.Fatal("server closed")
	}
	go c.readLoop()
	return &pipePeer{t: t, nc: client}
}

func (p *pipePeer) send(m protocol.Message) {
	m.Type = protocol.Type
	b, _ := json.Marshal(m)
	go wsutil.WriteClientText(p.nc, b) // a pipe write waits for the reader
}

// next returns the next message, or the close status as an Error whose Code
// is the close reason and Seconds the status.
func (p *pipePeer) next() protocol.Message {
	p.t.Helper()
	b, err := wsutil.ReadServerText(p.nc)
	if ce, ok := err.(wsutil.ClosedError); ok {
		return protocol.Message{State: "Closed", Code: protocol.Code(ce.Reason), Seconds: int(ce.Code)}
	}
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	var m protocol.Message
	json.Unmarshal(b, &m)
	return m
}

func (p *pipePeer) joinAs(srv *Server, s SessionID, id PeerID, ttl time.Duration) {
	tok, err := srv.Token(s, id, ttl, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(protocol.Message{State: protocol.SessionJoin, Token: tok})
}

func shutdown(srv *Server) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	srv.Shutdown(ctx)
}

func TestJoinTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, _ := NewServer(&Options{Secret: testSecret, JoinTimeout: 3 * time.Second})
		defer shutdown(srv)
		p := newPipePeer(t, srv)
		start := time.Now()
		if m := p.next(); m.State != protocol.Error || m.Code != protocol.CodeJoinTimeout {
			t.Fatalf("got %+v", m)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Fatalf("closed after %v, want 3s", d)
		}
		if m := p.next(); m.State != "Closed" || m.Seconds != int(ws.StatusPolicyViolation) {
			t.Fatalf("got %+v", m)
		}
		p.nc.Close()
	})
}

func TestSessionExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, _ := NewServer(&Options{Secret: testSecret})
		defer shutdown(srv)
		p := newPipePeer(t, srv)
		start := time.Now()
		p.joinAs(srv, "room", "alice", 90*time.Second)
		if m := p.next(); m.State != protocol.SessionReady {
			t.Fatalf("got %+v", m)
		}
		if m := p.next(); m.Code != protocol.CodeSessionExpired {
			t.Fatalf("got %+v", m)
		}
		if d := time.Since(start); d < 89*time.Second || d > 90*time.Second {
			t.Fatalf("expired after %v, want 90s", d)
		}
		p.next() // the close frame
		p.nc.Close()
		synctest.Wait()
		if n := srv.store.(*MemoryStore).Len(); n != 0 {
			t.Fatalf("%d sessions left after expiry", n)
		}
	})
}

// A host whose node died (it joined the shared store, then stopped renewing)
// is released by its lease: the server tells its own peers of that session.
func TestLapsedHostLeaseResetsSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := NewMemoryStore()
		const lease = 3 * time.Second
		// The pipe peer reads nothing while the test sleeps, so it would
		// not answer the keepalive's pings.
		srv, _ := NewServer(&Options{Secret: testSecret, Store: store, Lease: lease, PingInterval: -1})
		defer shutdown(srv)
		// The dead node's host.
		exp := time.Now().Add(time.Hour)
		if _, err := store.Join(context.Background(), "room", "ghost", JoinOptions{Lease: lease, Expires: exp}); err != nil {
			t.Fatal(err)
		}
		p := newPipePeer(t, srv)
		start := time.Now()
		p.joinAs(srv, "room", "bob", time.Hour)
		if m := p.next(); m.HostPeerID != "ghost" {
			t.Fatalf("got %+v", m)
		}
		m := p.next()
		if m.State != protocol.HostLeft || m.HostPeerID != "ghost" {
			t.Fatalf("got %+v", m)
		}
		if d := time.Since(start); d > lease+lease/3 {
			t.Fatalf("told after %v, want within %v", d, lease+lease/3)
		}
		// bob's own presence is kept alive by his server meanwhile: he
		// rejoins and hosts.
		p.joinAs(srv, "room", "bob", time.Hour)
		if m := p.next(); m.State != protocol.SessionReady || m.HostPeerID != "bob" {
			t.Fatalf("got %+v", m)
		}
		time.Sleep(10 * lease)
		host, err := store.Join(context.Background(), "room", "carol", JoinOptions{Lease: lease, Expires: exp})
		if err != nil || host != "bob" {
			t.Fatalf("after 10 leases carol joined under %q (%v): bob's renewed lease lapsed", host, err)
		}
		p.nc.Close()
	})
}

// The keepalive pings silent connections and closes one that answers
// nothing, 2 to 3 intervals after it last spoke: a silent host is replaced
// (its client gets HostLeft); a client that answers pings stays.
func TestKeepaliveClosesSilentPeers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const every = 5 * time.Second
		srv, _ := NewServer(&Options{Secret: testSecret, PingInterval: every})
		defer shutdown(srv)
		host := newPipePeer(t, srv)
		host.joinAs(srv, "room", "host", time.Hour)
		host.next()
		client := newPipePeer(t, srv)
		client.joinAs(srv, "room", "client", time.Hour)
		client.next()
		host.next()
		start := time.Now()
		// The client reads (and so answers pings); the host never reads again.
		got := make(chan protocol.Message, 10)
		go func() {
			for {
				b, err := wsutil.ReadServerText(client.nc)
				if err != nil {
					close(got)
					return
				}
				var m protocol.Message
				json.Unmarshal(b, &m)
				got <- m
			}
		}()
		m := <-got
		if d := time.Since(start); m.State != protocol.HostLeft || d < 2*every || d > 3*every {
			t.Fatalf("after %v the client got %+v, want HostLeft after 2 to 3 intervals", d, m)
		}
		time.Sleep(20 * every)
		if st := srv.Stats(); st.DeadClosed != 1 || st.Connections != 1 {
			t.Fatalf("stats %+v: want the host closed, the client kept", st)
		}
		host.nc.Close()
		client.nc.Close()
	})
}
