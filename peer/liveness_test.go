package peer_test

import (
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/peer"
)

// A host whose code freezes (no heartbeat, no answer to the server's
// HostProbe) while its sockets stay open is replaced: its clients lose it
// by their heartbeat, join again, find the server still naming it and
// report it (HostUnreachable); it does not answer the probe, so the
// session is reset, and the clients elect a new host among themselves.
// The old host, told host_unresponsive, comes back as a client: one host.
func TestFrozenHostIsReplaced(t *testing.T) {
	e := newEnv(t)
	old := e.join(e.config("room", "host", &rec{}))
	alice := e.join(e.config("room", "alice", &rec{}))
	bob := e.join(e.config("room", "bob", &rec{}))
	eventually(t, 10*time.Second, "the room is up", func() bool {
		return old.Peers()["alice"] == peer.StateConnected && old.Peers()["bob"] == peer.StateConnected
	})

	frozen := time.Now()
	peer.Mute(old, true)
	newHost := func() bool {
		h := alice.HostID()
		return h != "host" && h == bob.HostID() && alice.State() == peer.StateConnected && bob.State() == peer.StateConnected
	}
	eventually(t, 10*time.Second, "alice and bob under a new host", newHost)
	t.Logf("healed %v after the host froze (idle timeout %v)", time.Since(frozen).Round(time.Millisecond), fastBeat.IdleTimeout)
	// At least one reset by a probe. (Mute stops only the heartbeat and the
	// answer to HostProbe: the muted host may rejoin first and host again,
	// to be probed and replaced once more, which a frozen tab cannot do.)
	if n := e.srv.Stats().HostResets; n < 1 {
		t.Errorf("HostResets = %d: no probe replaced the host", n)
	}
	peer.Mute(old, false)

	h := alice.HostID()
	eventually(t, 10*time.Second, "the old host a client of the new one", func() bool {
		return !old.IsHost() && old.HostID() == h && old.State() == peer.StateConnected
	})
	hosts := 0
	for _, p := range []*peer.Peer{old, alice, bob} {
		if p.IsHost() {
			hosts++
		}
	}
	if hosts != 1 {
		t.Fatalf("%d hosts after the old host woke up", hosts)
	}
}
