package e2e

import (
	"fmt"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"
	"github.com/p2pstreams/p2pstreams/internal/netcut"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
)

// freeze blocks the page's main thread for d from now (a busy loop, as a
// hung tab): its sockets stay open, and the browser's network layer still
// answers for them, but none of its JavaScript runs.
func freeze(p *browsertest.Page, d time.Duration) time.Time {
	p.Eval(fmt.Sprintf(`setTimeout(() => { const end = Date.now() + %d; while (Date.now() < end) {} }, 0), true`, d.Milliseconds()), nil)
	return time.Now().Add(d)
}

// A host tab whose JavaScript freezes for 30 s while its WebSocket stays
// open: its clients find it silent by their heartbeat and ask the server
// (HostCheck), which probes the host's code (HostProbe, unanswered), resets
// the session and answers HostLeft; they elect a new host long before the
// old tab wakes up. When it
// does, it is told it did not answer (host_unresponsive) and joins again,
// as a client of the new host: one host in the room.
func TestFrozenHostTabIsReplaced(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	peer1 := a.join("peer1", "r", false)
	peer2 := a.join("peer2", "r", false)
	peer1.WaitText("peer2: connected")
	peer2.WaitText("peer1: connected")

	frozen := time.Now()
	wakes := freeze(host, 30*time.Second)
	peer1.WaitTrue(healed, "peer1 to show the healed room while the old host is frozen")
	peer2.WaitTrue(healed, "peer2 to show the healed room while the old host is frozen")
	took := time.Since(frozen)
	t.Logf("the room healed %v after the host tab froze", took.Round(100*time.Millisecond))
	if time.Now().After(wakes) {
		t.Fatalf("the room healed only after the old host woke up (%v)", took)
	}
	// Each client asked about its silent host (HostCheck) while ICE still
	// said connected; the probe, not the host waking up, reset the session.
	if st := a.srv.Stats(); st.HostResets != 1 || st.HostChecks < 2 {
		t.Errorf("HostResets = %d, HostChecks = %d; want 1 and at least one per client", st.HostResets, st.HostChecks)
	}

	time.Sleep(time.Until(wakes)) // a frozen page answers no driver either
	all := `(() => { const t = document.getElementById("peers").innerText
		return ["host", "peer1", "peer2"].every((p) => t.includes(p + ": connected")) })()`
	for _, p := range []*browsertest.Page{host, peer1, peer2} {
		p.WaitTrue(all, "every page to show the old host back as a client")
	}
	hosts := 0
	for _, p := range []*browsertest.Page{host, peer1, peer2} {
		var r string
		p.Eval(`document.getElementById("role").textContent`, &r)
		if r == "(host)" {
			hosts++
		}
	}
	var oldRole string
	host.Eval(`document.getElementById("role").textContent`, &oldRole)
	if hosts != 1 || oldRole == "(host)" {
		t.Fatalf("%d pages say (host), the old host says %q: want one host, not the old one", hosts, oldRole)
	}
}

// The same user opens the room again in another tab of the same browser,
// as a client and as the host: the second tab is refused with words
// (already_open) and never joins, and the first tab keeps working.
func TestSecondTabIsRefused(t *testing.T) {
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	peer1 := a.join("peer1", "r", false)
	peer1.WaitText("host: connected")
	peer1.WaitText("peer1: connected")
	joins := a.srv.Stats().Joins
	for i, first := range []*browsertest.Page{peer1, host} {
		name := []string{"peer1", "host"}[i]
		second := first.NewTab(t)
		second.Navigate(a.url + "/room?name=" + name + "&room=r")
		second.WaitText("You are already in this room in another tab.")
		if n := a.srv.Stats().Joins; n != joins {
			t.Fatalf("%d joins after %s's second tab, want %d: it must not join", n, name, joins)
		}
		for _, p := range []*browsertest.Page{host, peer1} {
			p.WaitText("host: connected")
			p.WaitText("peer1: connected")
		}
		line := name + " still works"
		demotest.Say(first, line)
		for _, p := range []*browsertest.Page{host, peer1} {
			demotest.WaitLine(p, name+": "+line)
		}
		second.Close()
	}
	// Closing the refused tab freed nothing the first tab needs; a reload
	// of the first (its page goes, its lock with it) connects again.
	peer1.Navigate(a.url + "/room?name=peer1&room=r")
	peer1.WaitText("host: connected")
	peer1.WaitText("peer1: connected")
	demotest.Say(peer1, "reloaded")
	demotest.WaitLine(host, "peer1: reloaded")
}

// noICE makes a page whose ICE cannot connect: it tells no candidate, takes
// none, and its descriptions carry none. It also records the frame's
// p2p:failed reasons and p2p:error codes in window.failures.
const noICE = `(() => {
	window.failures = []
	document.addEventListener("p2p:failed", (e) => window.failures.push("failed:" + e.detail.reason))
	document.addEventListener("p2p:error", (e) => window.failures.push("error:" + e.detail.code))
	const strip = (d) => d && d.sdp ? { type: d.type, sdp: d.sdp.split("\r\n").filter((l) => !l.startsWith("a=candidate") && !l.startsWith("a=end-of-candidates")).join("\r\n") } : d
	window.RTCPeerConnection = class extends RTCPeerConnection {
		set onicecandidate(f) {}
		get onicecandidate() { return null }
		get localDescription() { return strip(super.localDescription) }
		addIceCandidate() { return Promise.resolve() }
		setRemoteDescription(d) { return super.setRemoteDescription(strip(d)) }
	}
})()`

// A client whose link to the host cannot connect fails visibly after
// connect_timeout_mls (15 s by default): state failed with code ice_failed
// (the p2p:failed event, p2pError), the demo says so, and it tries again.
func TestUnconnectableLinkFails(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	host.WaitText("host: connected")
	peer1 := a.b.NewPage(t)
	if _, err := chromedp.Call(peer1.Context(), page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: noICE}); err != nil {
		t.Fatal(err)
	}
	peer1.Navigate(a.url + "/room?name=peer1&room=r")
	peer1.WaitText("Connecting to the host…")
	joins := a.srv.Stats().Joins
	started := time.Now()
	peer1.WaitTrue(`window.failures.includes("error:ice_failed") && window.failures.includes("failed:ice_failed")`,
		"the frame to report ice_failed (p2p:error) and the state failed (p2p:failed)")
	t.Logf("failed %v after connecting began", time.Since(started).Round(100*time.Millisecond))
	peer1.WaitText("No direct connection to the host could be made")
	host.WaitText("peer1: failed")
	// It tries again (with backoff): it joins once more.
	deadline := time.Now().Add(browsertest.Timeout)
	for a.srv.Stats().Joins == joins {
		if time.Now().After(deadline) {
			t.Fatal("the failed client did not join again")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A browser client whose host is gone while their link heals gives the
// heal up at once: the path between the pages is cut (so the clients' links
// heal, and the frozen-host rule, which waits for a link that ICE still
// calls connected, does not apply), the host tab freezes, and each client
// asks the server whether its host is alive (HostCheck). The server probes
// the frozen host, gets no answer, resets the session and answers HostLeft:
// the clients fail over. Their heal window is set to ten minutes, far past
// what the test waits: a client answered HostAlive would sit it out.
func TestHealingClientFailsOverOnHostLeft(t *testing.T) {
	long(t)
	if err := netcut.Check(); err != nil {
		if testenv.Strict() {
			t.Fatal(err)
		}
		t.Skip("SKIPPED: ", err)
	}
	a := startApp(t, nil)
	host := a.join("host", "r", false)
	peer1 := a.join("peer1", "r", false)
	peer2 := a.join("peer2", "r", false)
	peer1.WaitText("peer2: connected")
	peer2.WaitText("peer1: connected")
	for _, p := range []*browsertest.Page{peer1, peer2} {
		var ok bool
		p.Eval(`(() => { const c = document.querySelector("p2p-frame").peer.upstream
			c.config = { ...c.config, heal_timeout_mls: 600000 }
			return true })()`, &ok)
	}
	before := a.srv.Stats()
	u, err := url.Parse(a.url)
	if err != nil {
		t.Fatal(err)
	}
	port, _ := strconv.Atoi(u.Port())
	undo, err := netcut.Cut(port)
	if err != nil {
		t.Fatal(err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			if err := undo(); err != nil {
				t.Error(err)
			}
		}
	}
	t.Cleanup(restore)
	wakes := freeze(host, 30*time.Second)

	// Both clients asked, the probe reset the session, and both joined
	// again: the first back hosts. Then the path comes back, for the new
	// room's link.
	deadline := time.Now().Add(2 * browsertest.Timeout)
	for {
		st := a.srv.Stats()
		if st.HostChecks >= before.HostChecks+2 && st.HostResets == before.HostResets+1 && st.Joins >= before.Joins+2 {
			break
		}
		if time.Now().After(wakes) || time.Now().After(deadline) {
			t.Fatalf("the clients did not fail over while the host was frozen: before %+v, now %+v", before, st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the clients joined again %v after the host froze", time.Since(wakes.Add(-30*time.Second)).Round(100*time.Millisecond))
	restore()
	peer1.WaitTrue(healed, "peer1 to show the healed room")
	peer2.WaitTrue(healed, "peer2 to show the healed room")
	time.Sleep(time.Until(wakes)) // a frozen page answers no driver, nor its cleanup
}
