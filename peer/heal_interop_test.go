package peer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// Healing across implementations: a host and a client, Go or browser (the
// demo page), lose their path for a while (netcut: every packet but the
// signaling server's TCP is refused) and get it back. Both keep their
// RTCPeerConnection and heal without the server; what both sent during
// the break arrives after it, in order. Run in a loopback-only namespace,
// as every browser test.

// side is one end of the link under test, driven the same way whatever
// it is.
type side struct {
	id      string
	send    func(text string)
	healing func() bool
	heals   func() int64
	lines   func() []string // "sender: text", in the order received
}

func goSide(t *testing.T, p *peer.Peer, r *rec, remote protocol.PeerID) side {
	return side{
		id: string(p.ID()),
		send: func(text string) {
			if err := p.Send(context.Background(), text); err != nil {
				t.Fatalf("%s: Send: %v", p.ID(), err)
			}
		},
		healing: func() bool { return peer.Healing(p, remote) },
		heals:   func() int64 { return peer.Heals(p) },
		lines:   func() []string { return texts(r.messages()) },
	}
}

// connJS is the page's Connection to remote (its client's on a host).
func connJS(remote string) string {
	q, _ := json.Marshal(remote)
	return fmt.Sprintf(`(() => { const p = document.querySelector("p2p-frame").peer
		return p.iamHost ? p.clients.get(%s) : p.upstream })()`, q)
}

func pageSide(t *testing.T, p *browsertest.Page, id, remote string) side {
	c := connJS(remote)
	return side{
		id: id,
		send: func(text string) {
			q, _ := json.Marshal(text)
			var ok bool
			p.Eval(fmt.Sprintf(`document.querySelector("p2p-frame").send(%s)`, q), &ok)
			if !ok {
				t.Errorf("%s: send %q returned false", id, text)
			}
		},
		healing: func() bool {
			var h bool
			p.Eval(c+`?.healing === true`, &h)
			return h
		},
		heals: func() int64 {
			var n int64
			p.Eval(c+`?.heals ?? 0`, &n)
			return n
		},
		lines: func() []string { return demotest.Lines(p) },
	}
}

// restarted waits until the page's connection to remote has renegotiated
// ICE over the channel: the remote's ICE ufrag is no longer ufrag0.
func restarted(p *browsertest.Page, remote, ufrag0 string) {
	q, _ := json.Marshal(ufrag0)
	p.WaitTrue(`(() => { const c = `+connJS(remote)+`
		return c.pc.signalingState === "stable" && c.pc.connectionState === "connected" && !c.pc.remoteDescription.sdp.includes("a=ice-ufrag:" + `+string(q)+`) })()`,
		"an ICE restart over the channel")
}

func remoteUfrag(p *browsertest.Page, remote string) string {
	var u string
	p.Eval(connJS(remote)+`.pc.remoteDescription.sdp.match(/a=ice-ufrag:(\S+)/)[1]`, &u)
	return u
}

// browserPair opens a browser host and a browser client, carol, in room,
// both connected.
func (d *demoEnv) browserPair(room string) (host, carol *browsertest.Page) {
	host = d.page(room, "host")
	host.WaitText("host: connected")
	carol = d.page(room, "carol")
	carol.WaitText("carol: connected")
	host.WaitText("carol: connected")
	return host, carol
}

// healAcross cuts the path between host and client, sends from both
// before and while they heal, restores it, and checks that both healed
// without the server and got everything in order.
func healAcross(t *testing.T, d *demoEnv, host, client side) {
	before := d.srv.Stats()
	restore := cutPaths(t, d.base)
	say := func(phase string) {
		for i := range 5 {
			host.send(fmt.Sprintf("%s %d", phase, i))
			client.send(fmt.Sprintf("%s %d", phase, i))
		}
	}
	say("before")
	eventually(t, 30*time.Second, "both ends see the break and heal", func() bool { return host.healing() && client.healing() })
	say("during")
	restore()
	want := func(id string) []string {
		var out []string
		for _, phase := range []string{"before", "during"} {
			for i := range 5 {
				out = append(out, fmt.Sprintf("%s: %s %d", id, phase, i))
			}
		}
		return out
	}
	only := func(lines []string, id string) []string {
		var out []string
		for _, l := range lines {
			if strings.HasPrefix(l, id+": ") {
				out = append(out, l)
			}
		}
		return out
	}
	for _, s := range []side{host, client} {
		eventually(t, 30*time.Second, s.id+" gets what was sent during the break", func() bool {
			lines := s.lines()
			return len(only(lines, host.id)) >= 10 && len(only(lines, client.id)) >= 10
		})
		lines := s.lines()
		for _, from := range []string{host.id, client.id} {
			if got := only(lines, from); !slices.Equal(got, want(from)) {
				t.Errorf("%s got from %s: %q", s.id, from, got)
			}
		}
	}
	eventually(t, 20*time.Second, "both healed", func() bool { return host.heals() >= 1 && client.heals() >= 1 })
	// The client (Go or browser) asked once whether its host is alive
	// (HostCheck, on a connection of its own: one check per silence,
	// whether the heal or the host's silence set it off), was answered
	// HostAlive and kept healing: nothing else, and no join.
	eventually(t, 10*time.Second, "the client's HostCheck", func() bool { return d.srv.Stats().HostChecks > before.HostChecks })
	after := d.srv.Stats()
	if after.HostChecks-before.HostChecks != 1 || after.Accepted-before.Accepted != 1 || after.Joins != before.Joins {
		t.Errorf("the server was used to heal: before %+v, after %+v", before, after)
	}
	host.send("after")
	client.send("after")
	for _, s := range []side{host, client} {
		eventually(t, 10*time.Second, s.id+" gets messages after healing", func() bool {
			l := s.lines()
			return slices.Contains(l, host.id+": after") && slices.Contains(l, client.id+": after")
		})
	}
}

func TestHealBrowserToBrowser(t *testing.T) {
	needNetcut(t)
	d := newDemoEnv(t)
	host, carol := d.browserPair("hb")
	host.Eval(`window.pc0 = `+connJS("carol")+`.pc, true`, nil)
	ufrag := remoteUfrag(carol, "host")
	healAcross(t, d, pageSide(t, host, "host", "carol"), pageSide(t, carol, "carol", "host"))
	restarted(carol, "host", ufrag)
	var same bool
	host.Eval(connJS("carol")+`.pc === window.pc0`, &same)
	if !same {
		t.Error("the host's RTCPeerConnection to carol was replaced")
	}
	carol.WaitText("host: connected")
}

func TestHealGoHostBrowserClient(t *testing.T) {
	needNetcut(t)
	d := newDemoEnv(t)
	hr := &rec{}
	cfg := d.goConfig("hg", "gohost", hr)
	cfg.API = healAPI
	host := d.join(cfg)
	carol := d.page("hg", "carol")
	carol.WaitText("carol: connected")
	eventually(t, 10*time.Second, "carol connected in the host's map", func() bool { return hr.peerMap()["carol"] == peer.StateConnected })
	healAcross(t, d, goSide(t, host, hr, "carol"), pageSide(t, carol, "carol", "gohost"))
	if s := hr.peerMap()["carol"]; s != peer.StateConnected {
		t.Errorf("carol in the host's map: %v", s)
	}
}

func TestHealBrowserHostGoClient(t *testing.T) {
	needNetcut(t)
	d := newDemoEnv(t)
	host := d.page("hbg", "host")
	host.WaitText("host: connected")
	ar := &rec{}
	cfg := d.goConfig("hbg", "alice", ar)
	cfg.API = healAPI
	alice := d.join(cfg)
	host.WaitText("alice: connected")
	healAcross(t, d, pageSide(t, host, "host", "alice"), goSide(t, alice, ar, "host"))
	if alice.State() != peer.StateConnected {
		t.Errorf("alice: %v", alice.State())
	}
}

// Glare in browsers: host and client both set an ICE-restart offer before
// either sends it. The host (impolite) ignores the client's; the client
// (polite) rolls its own back and answers. Both end stable and connected
// on the same connection, which still carries messages.
func TestRenegotiationGlareBrowsers(t *testing.T) {
	d := newDemoEnv(t)
	host, carol := d.browserPair("glare")
	joins := d.srv.Stats().Joins
	ends := []struct {
		p    *browsertest.Page
		conn string
	}{{host, connJS("carol")}, {carol, connJS("host")}}
	// Both ends hold the descriptions they receive and set their restart
	// offers; then both send them, and only then take what they hold: the
	// offers have crossed.
	for _, e := range ends {
		var st string
		e.p.Eval(`(async () => { const c = `+e.conn+`
			c.pc.onnegotiationneeded = null
			c.heldDescriptions = []
			c.onDescription = (d) => c.heldDescriptions.push(d)
			c.pc.restartIce()
			await c.pc.setLocalDescription()
			return c.pc.signalingState })()`, &st)
		if st != "have-local-offer" {
			t.Fatalf("signaling state %q, want have-local-offer", st)
		}
	}
	for _, e := range ends {
		e.p.Eval(`(() => { const c = `+e.conn+`; c.sendInBand(c.pc.localDescription); return true })()`, nil)
	}
	for _, e := range ends {
		e.p.WaitTrue(e.conn+`.heldDescriptions.length === 1`, "the other end's offer")
	}
	for _, e := range ends {
		e.p.Eval(`(() => { const c = `+e.conn+`
			delete c.onDescription // the prototype's again
			c.pc.onnegotiationneeded = () => c.negotiate()
			for (const d of c.heldDescriptions) c.onDescription(d)
			return true })()`, nil)
	}
	for _, e := range ends {
		e.p.WaitTrue(`(() => { const c = `+e.conn+`
			return c.pc.signalingState === "stable" && c.pc.connectionState === "connected" && c.glares === 1 })()`,
			"stable and connected after one glare")
	}
	if j := d.srv.Stats().Joins; j != joins {
		t.Errorf("joins went from %d to %d: the connection was rebuilt", joins, j)
	}
	demotest.Say(carol, "after the glare")
	demotest.WaitLine(host, "carol: after the glare")
}
