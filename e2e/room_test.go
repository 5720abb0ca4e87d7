package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"
)

// The gem's own system test: three users join and every page shows all three
// connected.
func TestThreeUsersAllConnected(t *testing.T) {
	a := startApp(t, nil)
	host := a.join("host", "", false) // room left empty: lobby
	host.WaitText("host: connected")
	peer1 := a.join("peer1", "", false)
	peer1.WaitText("host: connected")
	peer1.WaitText("peer1: connected")
	peer2 := a.join("peer2", "", false)
	for _, p := range []*browsertest.Page{host, peer1, peer2} {
		p.WaitText("host: connected")
		p.WaitText("peer1: connected")
		p.WaitText("peer2: connected")
	}
	host.WaitText("room lobby")
}

// The gem's: a user closes their page and the others show them disconnected.
func TestClosedPageShowsDisconnected(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	peer1 := a.join("peer1", "r", false)
	peer2 := a.join("peer2", "r", false)
	peer2.WaitText("peer1: connected")
	// Shorten the host's wait before it forgets a client that went (30s).
	host.Eval(`document.querySelector("p2p-frame").peer.forgetAfterMls = 1500`, nil)
	peer1.Close()
	host.WaitText("peer1: disconnected")
	peer2.WaitText("peer1: disconnected")
	peer2.WaitText("host: connected")
	peer2.WaitText("peer2: connected")

	// peer1 does not come back: the host forgets it (and tells the server,
	// which takes PeerLeft from the host without an error).
	gone := `!document.getElementById("peers").innerText.includes("peer1:")`
	host.WaitTrue(gone, "the host to forget peer1")
	peer2.WaitTrue(gone, "peer2 to be told peer1 is forgotten")
	// (peer_not_found is expected: late ICE candidates for clients that
	// closed their WebSocket.)
	errs := a.srv.Stats().Errors
	for _, code := range []string{"bad_message", "unknown_state", "not_joined", "not_host"} {
		if errs[code] != 0 {
			t.Errorf("the server refused %d messages with %s: %v", errs[code], code, errs)
		}
	}
}

// The gem's: a message from a client and one from the host reach every page,
// the host's own included, exactly once and in the same order everywhere.
func TestMessagesReachEveryPage(t *testing.T) {
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	peer1 := a.join("peer1", "r", false)
	peer2 := a.join("peer2", "r", false)
	pages := []*pageT{{"host", host}, {"peer1", peer1}, {"peer2", peer2}}
	for _, p := range pages {
		p.WaitText("peer2: connected")
		p.WaitText("peer1: connected")
	}
	demotest.Say(peer1, "hello from peer1")
	for _, p := range pages {
		demotest.WaitLine(p.Page, "peer1: hello from peer1")
	}
	demotest.Say(host, "hello from the host")
	demotest.Say(peer2, "and from peer2")
	want := []string{"peer1: hello from peer1", "host: hello from the host", "peer2: and from peer2"}
	for _, p := range pages {
		demotest.WaitLine(p.Page, "peer2: and from peer2")
		demotest.WaitLine(p.Page, "host: hello from the host")
	}
	first := demotest.Lines(host)
	if len(first) != 3 {
		t.Fatalf("host shows %q, want each of %q once", first, want)
	}
	for _, w := range want {
		if !slices.Contains(first, w) {
			t.Fatalf("host shows %q, want %q among them", first, w)
		}
	}
	for _, p := range pages[1:] {
		if got := demotest.Lines(p.Page); !slices.Equal(got, first) {
			t.Errorf("%s shows %q, the host %q: every page sees every message once, in the host's order", p.name, got, first)
		}
	}
	if got := demotest.Lines(host); got[0] != want[0] {
		t.Errorf("the first message shown is %q, want %q (it was sent and shown before the others)", got[0], want[0])
	}
}

// A client that reloads its page negotiates again with the same host.
func TestClientReloadConnectsAgain(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	peer1 := a.join("peer1", "r", false)
	host.WaitText("peer1: connected")
	peer1.WaitText("peer1: connected")
	peer1.Eval(`document.querySelector("#peers").textContent = ""`, nil) // proof the list below is new
	peer1.Do(chromedp.Reload())
	peer1.WaitText("peer1: connected")
	peer1.WaitText("host: connected")
	host.WaitText("peer1: connected")
	demotest.Say(peer1, "back again")
	demotest.WaitLine(host, "peer1: back again")
	demotest.WaitLine(peer1, "peer1: back again")
	var role string
	peer1.Eval(`document.getElementById("role").textContent`, &role)
	if role != "" {
		t.Errorf("the reloaded client says it is %q, want not the host", role)
	}
}

// Two rooms never see each other's peers or messages.
func TestRoomsAreIsolated(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	a1 := a.join("ann", "red", false)
	a2 := a.join("abe", "red", false)
	b1 := a.join("bea", "blue", false)
	b2 := a.join("bob", "blue", false)
	a1.WaitText("abe: connected")
	b1.WaitText("bob: connected")
	demotest.Say(a2, "red only")
	demotest.Say(b2, "blue only")
	demotest.WaitLine(a1, "abe: red only")
	demotest.WaitLine(b1, "bob: blue only")
	demotest.WaitLine(a2, "abe: red only")
	demotest.WaitLine(b2, "bob: blue only")
	for _, p := range []*pageT{{"ann", a1}, {"abe", a2}} {
		if got := demotest.Lines(p.Page); !slices.Equal(got, []string{"abe: red only"}) {
			t.Errorf("%s in red shows %q", p.name, got)
		}
		if txt := p.Text(); strings.Contains(txt, "bea") || strings.Contains(txt, "bob") {
			t.Errorf("%s in red shows blue's peers:\n%s", p.name, txt)
		}
	}
	for _, p := range []*pageT{{"bea", b1}, {"bob", b2}} {
		if got := demotest.Lines(p.Page); !slices.Equal(got, []string{"bob: blue only"}) {
			t.Errorf("%s in blue shows %q", p.name, got)
		}
		if txt := p.Text(); strings.Contains(txt, "ann") || strings.Contains(txt, "abe") {
			t.Errorf("%s in blue shows red's peers:\n%s", p.name, txt)
		}
	}
}

// Markup sent as a message, or as a name, is shown as text and runs nothing.
func TestMarkupIsShownAsText(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	evilName := `<b>eve</b>`
	host := a.join("host", "r", false)
	eve := a.join(evilName, "r", false)
	host.WaitText(evilName + ": connected")
	evil := `<img src=x onerror="window.pwned=1"><script>window.pwned=2</script><b id=bold>bold</b>`
	demotest.Say(eve, evil)
	for _, p := range []*pageT{{"host", host}, {"eve", eve}} {
		demotest.WaitLine(p.Page, evilName+": "+evil)
		// Each chat line holds one element, the demo's own <b> around the sender.
		var bad struct {
			Pwned        any  `json:"pwned"`
			Elements     int  `json:"elements"`
			NameElements bool `json:"nameElements"`
		}
		p.Eval(`({pwned: window.pwned ?? null,
			elements: document.querySelectorAll("#lines img, #lines script, #lines b *, #peers b, #bold").length +
				[...document.querySelectorAll("#lines > div")].filter(d => d.children.length !== 1).length,
			nameElements: document.querySelector("header b:not(:first-child) b") !== null})`, &bad)
		if bad.Pwned != nil || bad.Elements != 0 || bad.NameElements {
			t.Errorf("%s: markup from a peer became elements or ran: %+v", p.name, bad)
		}
	}
}

// pageT is a page with the user's name, for messages.
type pageT struct {
	name string
	*browsertest.Page
}

// A peer that goes silent without closing anything (here: its page frozen,
// as a sleeping device's) is marked disconnected by the heartbeat's idle
// timeout. Closed pages are seen at once (they close their connections).
func TestSilentPeerMarkedDisconnectedByHeartbeat(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	peer1 := a.join("peer1", "r", false)
	peer2 := a.join("peer2", "r", false)
	peer2.WaitText("peer1: connected")
	host.WaitText("peer2: connected")
	_, err := chromedp.Call(peer1.Context(), page.SetWebLifecycleState,
		page.SetWebLifecycleStateParams{State: page.SetWebLifecycleStateStateFrozen})
	if err != nil {
		t.Fatalf("freeze peer1's page: %v", err)
	}
	start := time.Now()
	host.WaitText("peer1: disconnected")
	peer2.WaitText("peer1: disconnected")
	// The default idle timeout is 4s: sooner would mean something else saw
	// it go, and the heartbeat was not what was tested.
	if d := time.Since(start); d < 3*time.Second {
		t.Errorf("peer1 marked disconnected after %v, before the 4s idle timeout could pass", d)
	}
	peer2.WaitText("peer2: connected")
}
