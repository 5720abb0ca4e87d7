package peer_test

import (
	"context"
	"net"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// A host that loses its signaling connection keeps its clients over WebRTC
// and joins again to stay the host; its clients (which dropped their own
// signaling connections) notice nothing, and new peers join it.
func TestHostRedials(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var conns []net.Conn
	hr := &rec{}
	hcfg := e.config("room", "host", hr)
	hcfg.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err == nil {
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
		return c, err
	}
	host := e.join(hcfg)
	ar := &rec{}
	alice := e.join(e.config("room", "alice", ar))
	eventually(t, 10*time.Second, "alice sees herself connected", func() bool { return ar.peerMap()["alice"] == peer.StateConnected })

	mu.Lock()
	conns[0].Close() // the host's signaling connection breaks
	mu.Unlock()
	eventually(t, 10*time.Second, "the host joins again", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(conns) == 2 && e.srv.Stats().Hosts == 2
	})
	cr := &rec{}
	carol := e.join(e.config("room", "carol", cr))
	if carol.HostID() != "host" || !host.IsHost() || host.State() != peer.StateConnected {
		t.Fatalf("after the redial: carol's host %q, host.IsHost %v, host state %v", carol.HostID(), host.IsHost(), host.State())
	}
	if err := alice.Send(context.Background(), "still here"); err != nil {
		t.Fatal(err)
	}
	for id, r := range map[string]*rec{"host": hr, "alice": ar, "carol": cr} {
		eventually(t, 10*time.Second, id+" gets alice's message", func() bool {
			for _, m := range r.messages() {
				if m.From == "alice" && m.Text() == "still here" {
					return true
				}
			}
			return false
		})
	}
	if s := ar.stateLog(); s[len(s)-1] != peer.StateConnected || containsInOrder(s, peer.StateDisconnected) {
		t.Errorf("alice's states: %v", s)
	}
	want := map[protocol.PeerID]peer.State{"host": peer.StateConnected, "alice": peer.StateConnected, "carol": peer.StateConnected}
	eventually(t, 10*time.Second, "everyone connected in alice's map", func() bool {
		m := ar.peerMap()
		return len(m) == 3 && m["host"] == want["host"] && m["alice"] == want["alice"] && m["carol"] == want["carol"]
	})
}

// The signaling server restarts (Shutdown, then a new server on the same
// address): the host joins the new one and stays the host, its clients keep
// their DataChannels and notice nothing, and new peers join it there.
func TestServerRestart(t *testing.T) {
	checkGoroutines(t)
	secret := []byte("peer-restart-secret-0123456789")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	serve := func(ln net.Listener) (*p2pstreams.Server, *http.Server) {
		srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: secret})
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: srv}
		go hs.Serve(ln)
		return srv, hs
	}
	stop := func(srv *p2pstreams.Server, hs *http.Server) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Shutdown(ctx)
	}
	srv1, hs1 := serve(ln)
	e := &env{t: t, srv: srv1, url: "ws://" + addr + "/p2p/"}
	hr, ar := &rec{}, &rec{}
	host := e.join(e.config("room", "host", hr))
	alice := e.join(e.config("room", "alice", ar))

	stop(srv1, hs1)
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("listen again on %s: %v", addr, err)
	}
	srv2, hs2 := serve(ln2)
	t.Cleanup(func() { stop(srv2, hs2) })
	e.srv = srv2
	eventually(t, 15*time.Second, "the host joins the new server", func() bool { return srv2.Stats().Hosts == 1 })
	if !host.IsHost() || host.State() != peer.StateConnected {
		t.Fatalf("host: IsHost %v, state %v", host.IsHost(), host.State())
	}
	bob := e.join(e.config("room", "bob", &rec{}))
	if bob.HostID() != "host" {
		t.Fatalf("bob's host is %q", bob.HostID())
	}
	if err := alice.Send(context.Background(), "through the restart"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the host gets alice's message", func() bool {
		return slices.Contains(texts(hr.messages()), "alice: through the restart")
	})
	if s := ar.stateLog(); containsInOrder(s, peer.StateDisconnected) {
		t.Errorf("alice noticed the restart: %v", s)
	}
}
