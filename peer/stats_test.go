package peer_test

import (
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/peer"
)

// Stats: a connected host and client each see their one link, direct
// (host candidates on loopback), with an RTT once ICE has measured one.
func TestStatsDirect(t *testing.T) {
	e := newEnv(t)
	h := e.join(e.config("room", "host", &rec{}))
	c := e.join(e.config("room", "client", &rec{}))
	for _, tc := range []struct {
		p      *peer.Peer
		remote string
	}{{h, "client"}, {c, "host"}} {
		eventually(t, 10*time.Second, tc.remote+"'s link selected a pair", func() bool {
			s := tc.p.Stats()
			return len(s) == 1 && s[0].Local != ""
		})
		s := tc.p.Stats()[0]
		if string(s.Peer) != tc.remote || s.Local != "host" || s.Remote != "host" || s.Relayed {
			t.Errorf("stats %+v", s)
		}
	}
	closePeer(t, c)
	eventually(t, 10*time.Second, "the host drops the link", func() bool { return len(h.Stats()) == 0 })
}
