package peer_test

import (
	"context"
	"net"
	"sync"
	"testing"
	"time"

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
