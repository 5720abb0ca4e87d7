package peer_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/peer"
)

// A host whose loop freezes for 8 s (no heartbeat, no answer to the
// server's HostProbe) while its sockets stay open is replaced: its clients,
// once it has been silent for the idle timeout, ask the server about it
// (HostCheck); later they lose it by their heartbeat, join again, find the
// server still naming it and report it (HostUnreachable), whichever comes
// first. It does not answer the probe, so the session is reset, and the
// clients elect a new host among themselves. The old host, told
// host_unresponsive, comes back as a client: one host.
func TestFrozenHostIsReplaced(t *testing.T) {
	e := newEnv(t)
	old := e.join(e.config("room", "host", &rec{}))
	alice := e.join(e.config("room", "alice", &rec{}))
	bob := e.join(e.config("room", "bob", &rec{}))
	eventually(t, 10*time.Second, "the room is up", func() bool {
		return old.Peers()["alice"] == peer.StateConnected && old.Peers()["bob"] == peer.StateConnected
	})

	frozen := time.Now()
	peer.Freeze(old, 8*time.Second)
	newHost := func() bool {
		h := alice.HostID()
		return h != "host" && h == bob.HostID() && alice.State() == peer.StateConnected && bob.State() == peer.StateConnected
	}
	eventually(t, 10*time.Second, "alice and bob under a new host", newHost)
	t.Logf("healed %v after the host froze (idle timeout %v)", time.Since(frozen).Round(time.Millisecond), fastBeat.IdleTimeout)
	if time.Since(frozen) >= 8*time.Second {
		t.Fatal("healed only once the old host woke up")
	}
	if st := e.srv.Stats(); st.HostResets != 1 || st.HostChecks < 2 {
		t.Errorf("HostResets = %d, HostChecks = %d; want 1 (the probe replaced the host) and one check per client at least", st.HostResets, st.HostChecks)
	}

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

// A client whose ICE cannot connect (it gathers no candidate at all) fails
// its negotiation after the token config's connect_timeout_mls, with
// ErrICEFailed, and tries again with backoff until Join gives up.
func TestUnconnectableLinkFails(t *testing.T) {
	e := newEnv(t)
	e.join(e.config("room", "host", &rec{}))
	var se webrtc.SettingEngine
	se.SetInterfaceFilter(func(string) bool { return false }) // no interface: no candidate
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	cfg := e.config("room", "bob", &rec{})
	cfg.API = webrtc.NewAPI(webrtc.WithSettingEngine(se))
	cfg.Token = e.token("room", "bob", map[string]any{"connect_timeout_mls": 500})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	_, err := peer.Join(ctx, cfg)
	if !errors.Is(err, peer.ErrICEFailed) || !errors.Is(err, peer.ErrDisconnected) {
		t.Fatalf("Join: %v, want ErrICEFailed (and ErrDisconnected)", err)
	}
	if !strings.Contains(err.Error(), "ice_failed") {
		t.Errorf("Join's error %q does not say ice_failed", err)
	}
	// It tried more than once: the host saw bob negotiate again.
	if j := e.srv.Stats().Joins; j < 3 {
		t.Errorf("%d joins, want the host's and at least two of bob's", j)
	}
}
