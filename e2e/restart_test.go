package e2e

import (
	"context"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo"
	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"
)

// node is one signaling server process, as `serve` runs it, on a fixed
// loopback address so that it can be restarted.
type node struct {
	srv *p2pstreams.Server
	hs  *http.Server
	ln  net.Listener
}

func startNode(t *testing.T, addr string) *node {
	t.Helper()
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: []byte("e2e-test-secret-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/", demo.New(srv, demo.Options{}))
	n := &node{srv: srv, hs: &http.Server{Handler: mux}, ln: ln}
	go n.hs.Serve(ln)
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n.srv.Shutdown(ctx)
	n.hs.Shutdown(ctx)
}

// The server restarts (memory store: every session is gone). The peers are
// told, the clients never notice (they talk over WebRTC), and the host joins
// the new server again and stays the host: new peers reach the same room.
func TestServerRestartKeepsTheRoom(t *testing.T) {
	long(t)
	b := browsertest.Shared(t)
	n := startNode(t, "127.0.0.1:0")
	addr := n.ln.Addr().String()
	a := &app{t: t, srv: n.srv, url: "http://" + addr, b: b}

	host := a.join("host", "r", false)
	peer1 := a.join("peer1", "r", false)
	peer1.WaitText("peer1: connected")
	host.WaitText("peer1: connected")

	n.stop()
	n = startNode(t, addr)
	a.srv = n.srv
	// The host is back, and it hosts: the only join so far made a host.
	deadline := time.Now().Add(browsertest.Timeout)
	for s := n.srv.Stats(); s.Joins < 1; s = n.srv.Stats() {
		if time.Now().After(deadline) {
			t.Fatal("the host did not join the restarted server")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if s := n.srv.Stats(); s.Hosts != 1 || s.Joins != 1 {
		t.Fatalf("after the restart %d joins, %d made a host; want the old host's one", s.Joins, s.Hosts)
	}
	demotest.Say(peer1, "still talking")
	demotest.WaitLine(host, "peer1: still talking")
	peer2 := a.join("peer2", "r", false)
	peer2.WaitText("host: connected")
	peer2.WaitText("peer1: connected")
	demotest.Say(peer2, "hi all")
	demotest.WaitLine(peer1, "peer2: hi all")
	host.WaitTrue(`document.getElementById("status").textContent === ""`, "the host's page to show no error once back")
}
