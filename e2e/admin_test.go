package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
)

// Browser hosts report their links (PeerStates): after the clients closed
// their WebSockets the server still lists them, connected. Removing one
// takes it out of every page, and it cannot join again with its token.
func TestRemovePeerInABrowserRoom(t *testing.T) {
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	bob := a.join("bob", "r", false)
	carol := a.join("carol", "r", false)
	for _, p := range []*pageT{{"host", host}, {"bob", bob}, {"carol", carol}} {
		p.WaitText("bob: connected")
		p.WaitText("carol: connected")
	}
	a.waitConns(1) // only the host keeps its WebSocket
	sessions := func() []p2pstreams.SessionInfo {
		ss, err := a.srv.Sessions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	listed := func(id, state string) bool {
		for _, s := range sessions() {
			for _, p := range s.Peers {
				if s.ID == "r" && string(p.ID) == id && p.State == state && !p.Signaling {
					return true
				}
			}
		}
		return false
	}
	for deadline := time.Now().Add(10 * time.Second); !listed("bob", "connected"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the server does not list bob connected without a WebSocket: %+v", sessions())
		}
	}
	if err := a.srv.RemovePeer(context.Background(), "r", "bob"); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*pageT{{"host", host}, {"carol", carol}} {
		p.WaitTrue(`!document.body.innerText.includes("bob: connected")`, p.name+" no longer shows bob connected")
	}
	// bob's page lost its host and, joining again, is refused for good.
	bob.WaitText("peer_removed")
	bob.WaitText("bob: disconnected")
	if strings.Contains(host.Text(), "bob: connected") {
		t.Error("the host still shows bob connected")
	}
	var found bool
	for _, s := range sessions() {
		for _, p := range s.Peers {
			found = found || p.ID == p2pstreams.PeerID("bob") && p.State == "connected"
		}
	}
	if found {
		t.Errorf("the server still lists bob connected: %+v", sessions())
	}
}
