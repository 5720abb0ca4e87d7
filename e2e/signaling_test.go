package e2e

import (
	"net/url"
	"testing"

	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"
)

// Clients close their signaling WebSocket once connected; the host keeps its.
func TestClientsCloseSignalingOnceConnected(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	peer1 := a.join("peer1", "r", false)
	peer2 := a.join("peer2", "r", false)
	for _, p := range []*pageT{{"host", host}, {"peer1", peer1}, {"peer2", peer2}} {
		p.WaitText("peer1: connected")
		p.WaitText("peer2: connected")
	}
	a.waitConns(1)
	if !frameSocketOpen(host) {
		t.Error("the host's signaling WebSocket is closed, want open")
	}
	for _, p := range []*pageT{{"peer1", peer1}, {"peer2", peer2}} {
		if frameSocketOpen(p.Page) {
			t.Errorf("%s's signaling WebSocket is open, want closed once connected", p.name)
		}
	}
	// Still one room: the clients talk through the host without the server.
	demotest.Say(peer2, "no server needed")
	demotest.WaitLine(peer1, "peer2: no server needed")
	if n := a.srv.Stats().Connections; n != 1 {
		t.Errorf("%d WebSockets open after chatting, want 1", n)
	}
}

// With keepCableConnection every peer keeps its WebSocket.
func TestKeepCableConnection(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	keep := url.Values{"keep": {"on"}}
	host := a.open("host", "r", keep)
	peer1 := a.open("peer1", "r", keep)
	peer2 := a.open("peer2", "r", keep)
	for _, p := range []*pageT{{"host", host}, {"peer1", peer1}, {"peer2", peer2}} {
		p.WaitText("peer1: connected")
		p.WaitText("peer2: connected")
	}
	demotest.Say(peer1, "kept")
	demotest.WaitLine(peer2, "peer1: kept")
	a.waitConns(3)
	for _, p := range []*pageT{{"host", host}, {"peer1", peer1}, {"peer2", peer2}} {
		if !frameSocketOpen(p.Page) {
			t.Errorf("%s's signaling WebSocket is closed, want open with keepCableConnection", p.name)
		}
	}
}
