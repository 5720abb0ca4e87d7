package e2e

import (
	"fmt"
	"net/url"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
)

// watcher opens the room page for name with the demo's query switches,
// watching streams from the start (watchStreams), and waits for it to
// connect.
func (a *app) watcher(name, room string, query url.Values) *browsertest.Page {
	a.t.Helper()
	p := a.b.NewPage(a.t)
	if _, err := chromedp.Call(p.Context(), page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: watchStreams}); err != nil {
		a.t.Fatal(err)
	}
	if query == nil {
		query = url.Values{}
	}
	query.Set("name", name)
	query.Set("room", room)
	p.Navigate(a.url + "/room?" + query.Encode())
	p.WaitText(name + ": connected")
	return p
}

// receivedKbps measures, on a viewer's page, the host's video as received
// over about five seconds (inbound-rtp bytesReceived of the track playing
// in video-host, over the stats' own timestamps), in kbit/s.
const receivedKbps = `(async () => {
	const v = document.getElementById("video-host")
	const track = v.srcObject.getVideoTracks()[0]
	const pc = document.querySelector("p2p-frame").peer.upstream.pc
	const sample = async () => {
		for (const s of (await pc.getStats(track)).values()) if (s.type === "inbound-rtp" && s.kind === "video") return s
	}
	const a = await sample()
	await new Promise((r) => setTimeout(r, 5000))
	const b = await sample()
	return (b.bytesReceived - a.bytesReceived) * 8 / (b.timestamp - a.timestamp)
})()`

// The host's senders carry the frame config's maxBitrate for each viewer,
// a share's own options override it (maxBitrate 0: none;
// scaleResolutionDownBy), and what a viewer receives follows: a capped
// video comes at about its cap, far below the same camera uncapped.
func TestStreamCaps(t *testing.T) {
	long(t)
	const capBps = 60_000
	a := startApp(t, nil)
	q := func() url.Values { return url.Values{"maxBitrate": {fmt.Sprint(capBps)}} }
	host := a.watcher("host", "caps", q())
	alice := a.watcher("alice", "caps", q())

	share := func(options string) {
		t.Helper()
		var ok bool
		host.Eval(`(async () => {
			window.camera = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } })
			return document.querySelector("p2p-frame").shareStream(window.camera, `+options+`) })()`, &ok)
		if !ok {
			t.Fatalf("shareStream(camera, %s) returned false", options)
		}
		alice.WaitTrue(playing, "alice plays the host's camera")
	}
	senderCaps := func() (maxBitrate, scale float64) {
		t.Helper()
		var enc []struct {
			MaxBitrate            float64 `json:"maxBitrate"`
			ScaleResolutionDownBy float64 `json:"scaleResolutionDownBy"`
		}
		host.Eval(`document.querySelector("p2p-frame").peer.clients.get("alice").senderCaps().find((s) => s.kind === "video").encodings`, &enc)
		if len(enc) == 0 {
			t.Fatal("the host's video sender to alice has no encodings")
		}
		return enc[0].MaxBitrate, enc[0].ScaleResolutionDownBy
	}
	stop := func() {
		host.Eval(`document.querySelector("p2p-frame").stopStream(window.camera); window.camera.getTracks().forEach((t) => t.stop())`, nil)
		alice.WaitTrue(`!document.getElementById("video-host")`, "the stream ended")
	}

	// Uncapped first: a fresh link's bandwidth estimate starts well above
	// the cap (one held low by a cap ramps up only slowly).
	share(`{ maxBitrate: 0 }`) // this share's own: none
	if b, _ := senderCaps(); b != 0 {
		t.Errorf("the sender to alice has maxBitrate %v, want none (the share's 0)", b)
	}
	var uncapped float64
	alice.Eval(receivedKbps, &uncapped)
	stop()

	share(`{}`) // the config's cap
	if b, _ := senderCaps(); b != capBps {
		t.Errorf("the sender to alice has maxBitrate %v, want the config's %d", b, capBps)
	}
	var capped float64
	alice.Eval(receivedKbps, &capped)
	t.Logf("alice received %.0f kbit/s capped at %d kbit/s, %.0f kbit/s uncapped", capped, capBps/1000, uncapped)
	if capped > 1.5*capBps/1000 {
		t.Errorf("capped at %d kbit/s, alice received %.0f kbit/s", capBps/1000, capped)
	}
	if uncapped < 2*capped {
		t.Errorf("uncapped %.0f kbit/s is not clearly above capped %.0f kbit/s", uncapped, capped)
	}
	stop()

	share(`{ scaleResolutionDownBy: 2 }`)
	if _, s := senderCaps(); s != 2 {
		t.Errorf("the sender to alice has scaleResolutionDownBy %v, want 2", s)
	}
	var width int
	alice.Eval(`document.getElementById("video-host").videoWidth`, &width)
	if width == 0 || width > 320 {
		t.Errorf("scaled down by 2, a 640-wide camera arrives %d wide", width)
	}

	// Bad options are refused with a code, and nothing is shared.
	var res struct {
		OK   bool   `json:"ok"`
		Code string `json:"code"`
	}
	host.Eval(`(() => { const f = document.querySelector("p2p-frame"); let code
		f.addEventListener("p2p:error", (e) => { code = e.detail.code }, { once: true })
		const ok = f.shareStream(new MediaStream(), { scaleResolutionDownBy: 0.5 })
		return { ok, code } })()`, &res)
	if res.OK || res.Code != "bad_stream_options" {
		t.Errorf("shareStream with scaleResolutionDownBy 0.5: %+v, want false and bad_stream_options", res)
	}
}

// recordErrors, run on a page, keeps the codes of its p2p:error events in
// window.codes.
const recordErrors = `window.codes = []; document.querySelector("p2p-frame").addEventListener("p2p:error", (e) => window.codes.push(e.detail.code))`

// With clientsMayShare false (the demo's share=host) a client's share is
// refused with share_forbidden, and a client that sends a track anyway (its
// code changed: the track added to its link directly) is refused by the
// host, which tells it with that code and forwards nothing. The host still
// shares.
func TestClientsMayNotShare(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	q := func() url.Values { return url.Values{"share": {"host"}} }
	host := a.watcher("host", "hostonly", q())
	alice := a.watcher("alice", "hostonly", q())
	bob := a.watcher("bob", "hostonly", q())
	for _, p := range []*browsertest.Page{host, alice, bob} {
		p.Eval(recordErrors, nil)
	}

	var ok bool
	alice.Eval(`(async () => {
		window.camera = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } })
		return document.querySelector("p2p-frame").shareStream(window.camera) })()`, &ok)
	if ok {
		t.Error("a client's shareStream returned true though clients may not share")
	}
	alice.WaitTrue(`window.codes.includes("share_forbidden")`, "alice's p2p:error share_forbidden")

	// A modified client: its track goes to the host without the check.
	alice.Eval(`document.querySelector("p2p-frame").peer.upstream.addStream(window.camera)`, nil)
	host.WaitTrue(`window.codes.includes("share_forbidden")`, "the host's p2p:error share_forbidden")
	alice.WaitTrue(`window.codes.filter((c) => c === "share_forbidden").length === 2`, "the host's Error share_forbidden at alice")
	// The host stopped the track's transceiver: alice's sender is stopped too.
	// The host stopped the track's transceiver: gone on both ends once renegotiated.
	alice.WaitTrue(`document.querySelector("p2p-frame").peer.upstream.pc.getTransceivers().length === 0`, "alice's transceiver stopped by the host")
	host.WaitTrue(`document.querySelector("p2p-frame").peer.clients.get("alice").pc.getTransceivers().length === 0`, "the host's transceiver for alice's track stopped")

	// The host's own share still goes to everyone, and nothing of alice's does.
	host.Eval(`(async () => {
		window.camera = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } })
		return document.querySelector("p2p-frame").shareStream(window.camera) })()`, &ok)
	if !ok {
		t.Fatal("the host's shareStream returned false")
	}
	bob.WaitTrue(playing, "bob plays the host's camera")
	for name, p := range map[string]*browsertest.Page{"host": host, "bob": bob} {
		var n int
		p.Eval(`document.querySelectorAll("#video-alice").length`, &n)
		if n != 0 {
			t.Errorf("%s shows alice's refused stream", name)
		}
	}
}
