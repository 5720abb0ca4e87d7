package peer_test

import (
	"context"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// Interop: Go peers and the browser client (the demo chat page in headless
// Chromium) in one room, each side as host. These tests skip loudly
// without Chromium or outside a loopback-only network namespace; run them
// with: unshare --net sh -c 'ip link set lo up && exec go test ./peer/...'

func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }

// demoEnv is a server with the demo chat beside it, and the shared browser.
type demoEnv struct {
	*env
	base string // http://127.0.0.1:port
	b    *browsertest.Browser
}

func newDemoEnv(t *testing.T) *demoEnv {
	t.Helper()
	b := browsertest.Shared(t) // before the goroutine baseline: the browser outlives the test
	checkGoroutines(t)
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: []byte("peer-interop-secret-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/", demo.New(srv, demo.Options{}))
	hs := serve(t, srv, mux)
	e := &env{t: t, srv: srv, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/"}
	return &demoEnv{env: e, base: hs.URL, b: b}
}

// goConfig is a Go peer with the browser's defaults (heartbeat 1 s / 4 s).
func (d *demoEnv) goConfig(room, id string, r *rec) peer.Config {
	cfg := d.config(room, id, r)
	cfg.Heartbeat = peer.Heartbeat{}
	return cfg
}

// page opens the demo's room page for a new browser user.
func (d *demoEnv) page(room, name string) *browsertest.Page {
	d.t.Helper()
	p := d.b.NewPage(d.t)
	p.Navigate(d.base + "/room?name=" + name + "&room=" + room)
	return p
}

func texts(ms []peer.Message) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = string(m.From) + ": " + m.Text()
	}
	return out
}

// A browser hosts (the demo page); Go peers join as its clients. Messages
// flow every way, once each, in the host's order; states match.
func TestInteropBrowserHostGoClients(t *testing.T) {
	d := newDemoEnv(t)
	host := d.page("mixed", "host")
	host.WaitText("host: connected")
	ar, br := &rec{}, &rec{}
	alice := d.join(d.goConfig("mixed", "alice", ar))
	bob := d.join(d.goConfig("mixed", "bob", br))
	if alice.IsHost() || alice.HostID() != "host" || bob.HostID() != "host" {
		t.Fatalf("alice: IsHost %v HostID %q; bob: HostID %q", alice.IsHost(), alice.HostID(), bob.HostID())
	}
	carol := d.page("mixed", "carol") // a browser client too
	all := map[protocol.PeerID]peer.State{"host": peer.StateConnected, "alice": peer.StateConnected, "bob": peer.StateConnected, "carol": peer.StateConnected}
	for _, p := range []*browsertest.Page{host, carol} {
		for id := range all {
			p.WaitText(string(id) + ": connected")
		}
	}
	for id, r := range map[string]*rec{"alice": ar, "bob": br} {
		eventually(t, 10*time.Second, id+" has the browser host's map", func() bool {
			m := r.peerMap()
			return len(m) == 4 && m["host"] == all["host"] && m["alice"] == all["alice"] && m["bob"] == all["bob"] && m["carol"] == all["carol"]
		})
	}

	ctx := context.Background()
	if err := alice.Send(ctx, "hello from go"); err != nil {
		t.Fatal(err)
	}
	demotest.WaitLine(host, "alice: hello from go")
	demotest.Say(host, "hello from the browser host")
	demotest.WaitLine(carol, "host: hello from the browser host")
	demotest.Say(carol, "and from a browser client")
	if err := bob.Send(ctx, "bob too"); err != nil {
		t.Fatal(err)
	}
	want := 4
	for _, p := range []*browsertest.Page{host, carol} {
		demotest.WaitLine(p, "bob: bob too")
		demotest.WaitLine(p, "carol: and from a browser client")
	}
	for id, r := range map[string]*rec{"alice": ar, "bob": br} {
		eventually(t, 10*time.Second, id+" gets the 4 messages", func() bool { return len(r.messages()) >= want })
	}
	order := demotest.Lines(host)
	if len(order) != want {
		t.Fatalf("the host shows %q, want 4 lines", order)
	}
	for _, got := range [][]string{demotest.Lines(carol), texts(ar.messages()), texts(br.messages())} {
		if !slices.Equal(got, order) {
			t.Errorf("a peer has %q, the host %q: every peer gets every message once, in the host's order", got, order)
		}
	}

	closePeer(t, bob) // a Go client leaves: the browsers see it
	host.WaitText("bob: disconnected")
	carol.WaitText("bob: disconnected")
	eventually(t, 10*time.Second, "alice sees bob gone", func() bool { return ar.peerMap()["bob"] == peer.StateDisconnected })
}

// A Go peer hosts; browsers (the demo page) join as its clients.
func TestInteropGoHostBrowserClients(t *testing.T) {
	d := newDemoEnv(t)
	hr := &rec{}
	host := d.join(d.goConfig("gohost", "gohost", hr))
	if !host.IsHost() {
		t.Fatal("the first peer is not the host")
	}
	alice := d.page("gohost", "alice")
	bob := d.page("gohost", "bob")
	for _, p := range []*browsertest.Page{alice, bob} {
		p.WaitText("gohost: connected")
		p.WaitText("alice: connected")
		p.WaitText("bob: connected")
	}
	var role string
	alice.Eval(`document.getElementById("role").textContent`, &role)
	if role != "" {
		t.Errorf("alice's page says %q, want not the host", role)
	}

	if err := host.Send(context.Background(), "hello from the go host"); err != nil {
		t.Fatal(err)
	}
	demotest.WaitLine(alice, "gohost: hello from the go host")
	demotest.Say(alice, "hi go")
	demotest.WaitLine(bob, "alice: hi go")
	demotest.Say(bob, "bob here")
	demotest.WaitLine(alice, "bob: bob here")
	eventually(t, 10*time.Second, "the host gets 3 messages", func() bool { return len(hr.messages()) == 3 })
	order := texts(hr.messages())
	for _, p := range []*browsertest.Page{alice, bob} {
		demotest.WaitLine(p, "bob: bob here")
		if got := demotest.Lines(p); !slices.Equal(got, order) {
			t.Errorf("a page shows %q, the Go host got %q", got, order)
		}
	}

	alice.Close() // a browser user closes the page: the Go host and bob see it
	eventually(t, 10*time.Second, "the Go host sees alice gone", func() bool {
		s := hr.peerMap()["alice"]
		return s == peer.StateDisconnected || s == peer.StateClosed
	})
	bob.WaitTrue(`/alice: (disconnected|closed)/.test(document.body.innerText)`, "alice gone on bob's page")
}

// Mixed failover: the browser host closes its page; its Go and browser
// clients rejoin by themselves, one of them hosts, and the room works
// again, whichever side the new host is on.
func TestInteropFailover(t *testing.T) {
	d := newDemoEnv(t)
	host := d.page("heal", "host")
	host.WaitText("host: connected")
	ar := &rec{}
	alice := d.join(d.goConfig("heal", "alice", ar))
	carol := d.page("heal", "carol")
	carol.WaitText("alice: connected")
	carol.WaitText("carol: connected")
	host.Close()

	healed := `(() => { const t = document.getElementById("peers").innerText
		return t.includes("alice: connected") && t.includes("carol: connected") && !t.includes("host:") })()`
	carol.WaitTrue(healed, "carol to show the healed room")
	eventually(t, 20*time.Second, "alice in the healed room", func() bool {
		m := ar.peerMap()
		return alice.State() == peer.StateConnected && len(m) == 2 &&
			m["alice"] == peer.StateConnected && m["carol"] == peer.StateConnected
	})
	var carolHosts bool
	carol.Eval(`document.querySelector("p2p-frame").peer.iamHost`, &carolHosts)
	if carolHosts == alice.IsHost() {
		t.Fatalf("after failover carol hosts: %v, alice hosts: %v; want exactly one", carolHosts, alice.IsHost())
	}
	t.Logf("new host: alice (Go) %v, carol (browser) %v", alice.IsHost(), carolHosts)
	if err := alice.Send(context.Background(), "healed"); err != nil {
		t.Fatal(err)
	}
	demotest.WaitLine(carol, "alice: healed")
	demotest.Say(carol, "yes")
	eventually(t, 10*time.Second, "alice gets carol's message", func() bool {
		return slices.Contains(texts(ar.messages()), "carol: yes")
	})
}

// The Go host leaves; its browser client and Go client heal the room.
func TestInteropGoHostLeaves(t *testing.T) {
	d := newDemoEnv(t)
	host := d.join(d.goConfig("heal2", "gohost", &rec{}))
	carol := d.page("heal2", "carol")
	carol.WaitText("carol: connected")
	ar := &rec{}
	alice := d.join(d.goConfig("heal2", "alice", ar))
	carol.WaitText("alice: connected")
	closePeer(t, host)

	healed := `(() => { const t = document.getElementById("peers").innerText
		return t.includes("alice: connected") && t.includes("carol: connected") && !t.includes("gohost:") })()`
	carol.WaitTrue(healed, "carol to show the healed room")
	eventually(t, 20*time.Second, "alice in the healed room", func() bool {
		m := ar.peerMap()
		return alice.State() == peer.StateConnected && len(m) == 2 &&
			m["alice"] == peer.StateConnected && m["carol"] == peer.StateConnected
	})
	demotest.Say(carol, "who hosts now?")
	eventually(t, 10*time.Second, "alice gets carol's message", func() bool {
		return slices.Contains(texts(ar.messages()), "carol: who hosts now?")
	})
	if err := alice.Send(context.Background(), "one of us"); err != nil {
		t.Fatal(err)
	}
	demotest.WaitLine(carol, "alice: one of us")
}
