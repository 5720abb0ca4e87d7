package e2e

import (
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
)

// watchStreams makes a page play every stream shared with it in a <video>
// (id "video-" + sharer) and count the streams that ended. It runs before
// the page's own scripts, so that no stream comes before it listens.
const watchStreams = `(() => {
	window.ended = 0
	document.addEventListener("p2p:stream", (e) => {
		window.t0 = undefined // for playing: a new video
		const v = document.createElement("video")
		v.id = "video-" + e.detail.peerId
		v.muted = true
		v.autoplay = true
		v.playsInline = true
		v.srcObject = e.detail.stream
		document.body.append(v)
		v.play().catch(() => {})
	})
	document.addEventListener("p2p:streamended", (e) => {
		window.ended++
		document.getElementById("video-" + e.detail.peerId)?.remove()
	})
})()`

// viewer opens the room page for name, watching streams from the start.
func (a *app) viewer(name, room string) *browsertest.Page {
	a.t.Helper()
	p := a.b.NewPage(a.t)
	if _, err := chromedp.Call(p.Context(), page.AddScriptToEvaluateOnNewDocument,
		page.AddScriptToEvaluateOnNewDocumentParams{Source: watchStreams}); err != nil {
		a.t.Fatal(err)
	}
	p.Navigate(a.url + "/room?name=" + name + "&room=" + room)
	p.WaitText(name + ": connected")
	return p
}

// playing is true once the host's stream plays on the page: frames of
// the fake camera decoded, time advancing.
const playing = `(() => { const v = document.getElementById("video-host")
	if (!v || v.videoWidth === 0) return false
	if (window.t0 === undefined) { window.t0 = v.currentTime; return false }
	return v.currentTime > window.t0 + 0.2 && v.getVideoPlaybackQuality().totalVideoFrames > 5 })()`

// The host shares its (fake) camera; a client that is there plays it, a
// client that joins later plays it too (tracks added to live connections,
// negotiated over the DataChannel); stopping ends it on every page, and so
// does the host leaving.
func TestHostSharesCamera(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "cam", false)
	host.WaitText("host: connected")
	alice := a.viewer("alice", "cam")
	joins := a.srv.Stats().Joins

	var shared bool
	host.Eval(`(async () => {
		window.camera = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } })
		return document.querySelector("p2p-frame").shareStream(window.camera) })()`, &shared)
	if !shared {
		t.Fatal("shareStream returned false on the host")
	}
	alice.WaitTrue(playing, "alice plays the host's camera")
	if j := a.srv.Stats().Joins; j != joins {
		t.Errorf("joins went from %d to %d: sharing rebuilt a connection", joins, j)
	}

	bob := a.viewer("bob", "cam") // joins while the host shares
	bob.WaitTrue(playing, "bob, who joined later, plays it too")

	host.Eval(`document.querySelector("p2p-frame").stopStream(window.camera)`, nil)
	for _, p := range []*browsertest.Page{alice, bob} {
		p.WaitTrue(`window.ended === 1 && !document.getElementById("video-host")`, "the stream ended")
	}

	// Shared again, then the host leaves: the stream ends with its link.
	host.Eval(`document.querySelector("p2p-frame").shareStream(window.camera)`, &shared)
	alice.WaitTrue(playing, "alice plays it again")
	host.Close()
	alice.WaitTrue(`window.ended === 2 && !document.getElementById("video-host")`, "the stream ended with the host")
}

// demoShare drives the demo's camera button on sharer's page: it clicks
// Share camera, checks that every viewer's page plays the video labelled
// with the sharer, then clicks Stop sharing and checks that it is gone.
func demoShare(sharer *browsertest.Page, name string, viewers ...*browsertest.Page) {
	sharer.WaitTrue(`!document.getElementById("share").hidden`, "the Share camera button")
	sharer.Do(chromedp.Click(chromedp.CSS("#share")))
	sharer.WaitText("Stop sharing")
	video := `document.querySelector('#videos figure[data-name="` + name + `"] video')`
	plays := `(() => { const v = ` + video + `; return !!v && v.videoWidth > 0 && v.currentTime > 0.3 })()`
	for _, v := range viewers {
		v.WaitTrue(plays, name+"'s video playing")
		v.WaitTrue(`document.querySelector('#videos figure[data-name="`+name+`"] figcaption').textContent === "`+name+`"`, "the video's label")
	}
	sharer.Do(chromedp.Click(chromedp.CSS("#share")))
	sharer.WaitText("Share camera")
	for _, v := range viewers {
		v.WaitTrue(`!`+video, name+"'s video gone when sharing stops")
	}
}

// The demo: the host shares its camera with a client.
func TestDemoShareCamera(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "democam", false)
	host.WaitText("host: connected")
	alice := a.join("alice", "democam", false)
	alice.WaitText("alice: connected")
	demoShare(host, "host", alice)
}

// A client shares its camera: the host plays it, and so does another
// client (the host forwards it).
func TestClientSharesCamera(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "ccam", false)
	host.WaitText("host: connected")
	alice := a.join("alice", "ccam", false)
	alice.WaitText("alice: connected")
	bob := a.join("bob", "ccam", false)
	bob.WaitText("bob: connected")
	demoShare(alice, "alice", host, bob)
}
