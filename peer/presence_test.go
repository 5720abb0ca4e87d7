package peer_test

import (
	"context"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
)

// A Go host reports its links (PeerStates): once a Go client is connected
// and has closed its WebSocket, the server still lists it, connected. Then
// RemovePeer drops it: the host closes its link and tells the others.
func TestHostReportsPresenceAndRemoval(t *testing.T) {
	e := newEnv(t)
	hr, cr, dr := &rec{}, &rec{}, &rec{}
	e.join(e.config("room", "host", hr))
	e.join(e.config("room", "client", cr))
	e.join(e.config("room", "other", dr))
	find := func(id string) (p2pstreams.PeerInfo, bool) {
		ss, err := e.srv.Sessions(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ss {
			for _, p := range s.Peers {
				if string(p.ID) == id && s.Host == "host" {
					return p, true
				}
			}
		}
		return p2pstreams.PeerInfo{}, false
	}
	eventually(t, 10*time.Second, "the server lists client as connected without a WebSocket", func() bool {
		p, ok := find("client")
		return ok && p.State == "connected" && !p.Signaling
	})
	if err := e.srv.RemovePeer(context.Background(), "room", "client"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "the other client sees client leave the host's map", func() bool {
		_, listed := dr.peerMap()["client"]
		st, reported := find("client")
		return (!listed || dr.peerMap()["client"].String() == "closed") && (!reported || st.State == "closed")
	})
}
