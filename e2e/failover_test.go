package e2e

import (
	"slices"
	"testing"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"

	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"
)

// The gem's: the host closes its page and, in the gem's manual mode, the
// others show that the stream is gone.
func TestHostLeavesManualFailover(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "r", true)
	peer1 := a.join("peer1", "r", true)
	peer2 := a.join("peer2", "r", true)
	peer1.WaitText("host: connected")
	peer2.WaitText("host: connected")
	peer2.WaitText("peer1: connected")
	host.Close()
	peer1.WaitText("Stream disconnected! please refresh to continue")
	peer2.WaitText("Stream disconnected! please refresh to continue")
	// They stay down: no one rejoined, so no one hosts.
	a.waitConns(0)
	if s := a.srv.Stats(); s.Hosts != 1 {
		t.Errorf("%d joins made a host, want only the first: clients in manual mode must not rejoin", s.Hosts)
	}
}

// healed is true on a page that shows the room healed after its host
// "host" went: peer1 and peer2 connected, the old host gone.
const healed = `(() => { const t = document.getElementById("peers").innerText
	return t.includes("peer1: connected") && t.includes("peer2: connected") && !t.includes("host:") })()`

// With automatic failover (the default) the room heals by itself: the
// clients rejoin, one becomes the host, the other connects to it, and
// messages flow again, with no reload.
func TestHostLeavesAutoFailover(t *testing.T) {
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	peer1 := a.join("peer1", "r", false)
	peer2 := a.join("peer2", "r", false)
	peer1.WaitText("peer2: connected")
	peer2.WaitText("peer1: connected")
	host.Close()

	peer1.WaitTrue(healed, "peer1 to show the healed room (peer1 and peer2 connected, the old host gone)")
	peer2.WaitTrue(healed, "peer2 to show the healed room")
	var roles []string
	for _, p := range []*pageT{{"peer1", peer1}, {"peer2", peer2}} {
		var r string
		p.Eval(`document.getElementById("role").textContent`, &r)
		roles = append(roles, r)
	}
	if (roles[0] == "(host)") == (roles[1] == "(host)") {
		t.Fatalf("roles after failover = %q, want exactly one (host)", roles)
	}
	demotest.Say(peer1, "still here")
	demotest.Say(peer2, "me too")
	for _, p := range []*pageT{{"peer1", peer1}, {"peer2", peer2}} {
		demotest.WaitLine(p.Page, "peer1: still here")
		demotest.WaitLine(p.Page, "peer2: me too")
	}
	// The new client drops its WebSocket again: only the new host keeps one.
	a.waitConns(1)
	if s := a.srv.Stats(); s.Hosts != 2 {
		t.Errorf("%d joins made a host, want 2 (the first host and one new one)", s.Hosts)
	}
}

// The chat history survives a host change (the opt-in state hand-off,
// p2pHostState / p2pRestoreState): after the host goes, every page still
// shows the whole history once, and a newcomer to the new host gets it too.
func TestHistorySurvivesHostChange(t *testing.T) {
	a := startApp(t, nil)
	host := a.join("host", "h", false)
	peer1 := a.join("peer1", "h", false)
	peer2 := a.join("peer2", "h", false)
	peer1.WaitText("peer2: connected")
	demotest.Say(host, "one")
	demotest.Say(peer1, "two")
	demotest.Say(peer2, "three")
	want := []string{"host: one", "peer1: two", "peer2: three"}
	for _, p := range []*browsertest.Page{host, peer1, peer2} {
		demotest.WaitLine(p, "peer2: three")
	}
	host.Close()
	healed := `(() => { const t = document.getElementById("peers").innerText
		return t.includes("peer1: connected") && t.includes("peer2: connected") && !t.includes("host:") })()`
	peer1.WaitTrue(healed, "peer1 to show the healed room")
	peer2.WaitTrue(healed, "peer2 to show the healed room")
	late := a.join("late", "h", false)
	late.WaitText("peer1: connected")
	demotest.WaitLine(late, "peer2: three")
	demotest.Say(peer2, "four")
	want = append(want, "peer2: four")
	for _, p := range []*browsertest.Page{peer1, peer2, late} {
		demotest.WaitLine(p, "peer2: four")
		if got := demotest.Lines(p); !slices.Equal(got, want) {
			t.Errorf("a page shows %q, want %q: the whole history, once", got, want)
		}
	}
}
