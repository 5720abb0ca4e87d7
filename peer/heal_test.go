package peer_test

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/internal/netcut"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// healAPI is loopback with ICE that says "disconnected" after 1 s without
// an answer (pion's default is 5 s), so that the break shows quickly.
var healAPI = func() *webrtc.API {
	se := peertest.LoopbackSettings()
	se.SetICETimeouts(time.Second, 30*time.Second, 200*time.Millisecond)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}()

// healBeat: the frozen-peer rule (silence twice the idle timeout while
// ICE still says connected) must not fire before ICE sees the break.
var healBeat = peer.Heartbeat{Interval: 200 * time.Millisecond, IdleTimeout: 1500 * time.Millisecond}

// needNetcut skips t (fails it when strict) where netcut cannot run.
func needNetcut(t *testing.T) {
	t.Helper()
	if err := netcut.Check(); err != nil {
		if testenv.Strict() {
			t.Fatal(err)
		}
		t.Skip("SKIPPED: ", err)
	}
}

// cutPaths breaks every path but the one to the server at rawURL until
// the returned restore runs (at the latest when the test ends).
func cutPaths(t *testing.T, rawURL string) (restore func()) {
	t.Helper()
	u, err := url.Parse(rawURL)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	undo, err := netcut.Cut(port)
	if err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	restore = func() {
		once.Do(func() {
			if err := undo(); err != nil {
				t.Error(err)
			}
		})
	}
	t.Cleanup(restore)
	return restore
}

func (e *env) healConfig(id string, r *rec) peer.Config {
	cfg := e.config("room", id, r)
	cfg.API, cfg.Heartbeat = healAPI, healBeat
	return cfg
}

// texts of r's messages from one sender.
func from(r *rec, id protocol.PeerID) []string {
	var out []string
	for _, m := range r.messages() {
		if m.From == id {
			out = append(out, m.Text())
		}
	}
	return out
}

func seq(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s %d", prefix, i)
	}
	return out
}

// Go ↔ Go: with the path between a host and its client cut for a few
// seconds, both keep their RTCPeerConnection and heal when it comes back,
// without the server (no new WebSocket, no new join); what both sent
// during the break arrives after it, in order, once each.
func TestLinkHealsAfterBreak(t *testing.T) {
	needNetcut(t)
	e := newEnv(t)
	hr, cr := &rec{}, &rec{}
	host := e.join(e.healConfig("host", hr))
	client := e.join(e.healConfig("alice", cr))
	eventually(t, 10*time.Second, "alice connected in the host's map", func() bool { return hr.peerMap()["alice"] == peer.StateConnected })
	before := e.srv.Stats()
	eventually(t, 5*time.Second, "alice's WebSocket closed", func() bool { return e.srv.Stats().Connections == 1 })

	ctx := context.Background()
	restore := cutPaths(t, e.url)
	send := func(batch []string) {
		for _, s := range batch {
			if err := client.Send(ctx, "alice "+s); err != nil {
				t.Fatal(err)
			}
			if err := host.Send(ctx, "host "+s); err != nil {
				t.Fatal(err)
			}
		}
	}
	all := seq("during", 20)
	send(all[:10]) // into the channel: SCTP keeps them
	eventually(t, 15*time.Second, "both ends see the break and heal", func() bool {
		return peer.Healing(host, "alice") && peer.Healing(client, "host")
	})
	send(all[10:]) // held until healed
	restore()
	for _, r := range []*rec{hr, cr} {
		eventually(t, 20*time.Second, "the messages sent during the break", func() bool {
			return len(from(r, "alice")) >= 20 && len(from(r, "host")) >= 20
		})
		for _, id := range []string{"alice", "host"} {
			want := make([]string, len(all))
			for i, s := range all {
				want[i] = id + " " + s
			}
			if got := from(r, protocol.PeerID(id)); !slices.Equal(got, want) {
				t.Errorf("%s's messages: %q", id, got)
			}
		}
	}
	eventually(t, 10*time.Second, "both healed", func() bool { return peer.Heals(host) >= 1 && peer.Heals(client) >= 1 })
	// The client asked once whether its host is alive (HostCheck, on a
	// connection of its own: one check per silence, whether the heal or
	// the host's silence set it off), was answered HostAlive and kept
	// healing: nothing else, and no join.
	eventually(t, 10*time.Second, "the client's HostCheck, answered and closed", func() bool {
		st := e.srv.Stats()
		return st.HostChecks > before.HostChecks && st.Connections == 1
	})
	after := e.srv.Stats()
	if after.HostChecks-before.HostChecks != 1 || after.Accepted-before.Accepted != 1 ||
		after.Joins != before.Joins || after.Connections != 1 {
		t.Errorf("the server was used to heal: before %+v, after %+v", before, after)
	}
	for _, s := range cr.stateLog() {
		if s == peer.StateDisconnected {
			t.Errorf("alice went through %v: %v", s, cr.stateLog())
		}
	}
	if err := client.Send(ctx, "after"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a message after healing", func() bool { return slices.Contains(from(hr, "alice"), "after") })
}

// Messages a client queued while healing are reported lost, not dropped
// silently, when the link does not heal in time; the client then rejoins
// through the server.
func TestLinkLostReportsHeld(t *testing.T) {
	needNetcut(t)
	e := newEnv(t)
	hr, cr := &rec{}, &rec{}
	e.join(e.healConfig("host", hr))
	ccfg := e.healConfig("alice", cr)
	ccfg.HealTimeout = 2 * time.Second
	lost := make(chan error, 10)
	ccfg.OnError = func(err error) { lost <- err }
	client := e.join(ccfg)
	eventually(t, 10*time.Second, "alice connected", func() bool { return hr.peerMap()["alice"] == peer.StateConnected })
	restore := cutPaths(t, e.url)
	eventually(t, 15*time.Second, "alice heals (Send then holds)", func() bool { return peer.Healing(client, "host") })
	for i := range 3 {
		if err := client.Send(context.Background(), i); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-lost:
		if !errors.Is(err, peer.ErrMessagesLost) {
			t.Errorf("OnError: %v, want ErrMessagesLost", err)
		}
		t.Log(err)
	case <-time.After(15 * time.Second):
		t.Fatal("no ErrMessagesLost")
	}
	restore()
	eventually(t, 30*time.Second, "alice rejoins through the server", func() bool {
		return client.State() == peer.StateConnected && e.srv.Stats().Joins >= 3
	})
}

// Renegotiation over the DataChannel, Go ↔ Go: the host, then the
// client, adds a transceiver to the live connection; each change is
// negotiated over the channel (no new join), and the link carries on.
// (Glare: glare_test.go.)
func TestRenegotiationOverChannel(t *testing.T) {
	e := newEnv(t)
	hr, cr := &rec{}, &rec{}
	host := e.join(e.config("room", "host", hr))
	client := e.join(e.config("room", "alice", cr))
	eventually(t, 10*time.Second, "alice connected", func() bool { return hr.peerMap()["alice"] == peer.StateConnected })
	joins := e.srv.Stats().Joins
	settled := func(p *peer.Peer, remote protocol.PeerID, want int) func() bool {
		return func() bool {
			n, stable, err := peer.Negotiated(p, remote)
			return err == nil && stable && n == want
		}
	}
	for i, side := range []struct {
		p      *peer.Peer
		remote protocol.PeerID
		mime   string
	}{{host, "alice", webrtc.MimeTypeVP8}, {client, "host", webrtc.MimeTypeOpus}} {
		if err := peer.AddLinkTrack(side.p, side.remote, side.mime); err != nil {
			t.Fatal(err)
		}
		eventually(t, 10*time.Second, "the host negotiated it", settled(host, "alice", i+1))
		eventually(t, 10*time.Second, "alice negotiated it", settled(client, "host", i+1))
	}
	if j := e.srv.Stats().Joins; j != joins {
		t.Errorf("joins went from %d to %d: the connection was rebuilt", joins, j)
	}
	if err := client.Send(context.Background(), "still here"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "a message after renegotiating", func() bool { return slices.Contains(from(hr, "alice"), "still here") })
}
