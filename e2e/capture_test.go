package e2e

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
)

// The demo's Share screen button (where getDisplayMedia exists): the
// host's screen plays on a client's page, and Stop sharing ends it.
func TestDemoShareScreen(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "screen", false)
	host.WaitText("host: connected")
	alice := a.join("alice", "screen", false)
	alice.WaitText("alice: connected")

	host.WaitTrue(`!document.getElementById("screen").hidden && document.getElementById("screen").textContent === "Share screen"`, "the Share screen button")
	host.Do(chromedp.Click(chromedp.CSS("#screen")))
	host.WaitTrue(`document.getElementById("screen").textContent === "Stop sharing"`, "Stop sharing on the screen button")
	video := `document.querySelector('#videos figure[data-name="host"] video')`
	alice.WaitTrue(`(() => { const v = `+video+`; if (!v || v.videoWidth === 0) return false
		if (window.t0 === undefined) { window.t0 = v.currentTime; return false }
		return v.currentTime > window.t0 + 0.2 })()`, "the host's screen playing at alice")
	var label string
	host.Eval(`document.getElementById("share").textContent`, &label)
	if label != "Share camera" {
		t.Errorf("the camera button says %q while the screen is shared, want Share camera", label)
	}
	host.Do(chromedp.Click(chromedp.CSS("#screen")))
	host.WaitTrue(`document.getElementById("screen").textContent === "Share screen"`, "Share screen again")
	alice.WaitTrue(`!`+video, "the screen gone at alice")
}

// A camera that cannot be had reaches p2pError with a code: one that does
// not exist (a device id no camera has) is media_unavailable; one refused
// (a browser that denies every capture) is media_denied, and the demo says
// it in words. Nothing is shared either way.
func TestCaptureFails(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "nocam", false)
	host.WaitText("host: connected")
	host.Eval(recordErrors, nil)

	var got struct {
		Stream bool     `json:"stream"`
		Codes  []string `json:"codes"`
	}
	host.Eval(`(async () => {
		const s = await document.querySelector("p2p-frame").shareCamera({ video: { deviceId: { exact: "no-such-camera" } } })
		return { stream: !!s, codes: window.codes } })()`, &got)
	if got.Stream || len(got.Codes) != 1 || got.Codes[0] != "media_unavailable" {
		t.Errorf("shareCamera of a camera that does not exist: stream %v, p2p:error codes %v; want none and [media_unavailable]", got.Stream, got.Codes)
	}

	// A browser that refuses every capture, as a user clicking Block does.
	denied, err := browsertest.Launch(context.Background(), testenv.Chromium(t), "use-fake-ui-for-media-stream=deny")
	if err != nil {
		t.Fatal(err)
	}
	defer denied.Close()
	bob := denied.NewPage(t)
	bob.Navigate(a.url + "/room?name=bob&room=nocam")
	bob.WaitText("bob: connected")
	bob.Eval(recordErrors, nil)
	bob.Do(chromedp.Click(chromedp.CSS("#share")))
	bob.WaitTrue(`window.codes.includes("media_denied")`, "p2p:error media_denied")
	bob.WaitText("the browser was not allowed to")
	var label string
	bob.Eval(`document.getElementById("share").textContent`, &label)
	if label != "Share camera" {
		t.Errorf("after a refused camera the button says %q, want Share camera", label)
	}
}

// Audio: the host shares the fake microphone (a beep) with its camera; an
// AnalyserNode on a client's received stream sees signal (samples well off
// silence), which a stream without the microphone's track would not give.
func TestSharedAudioHasSignal(t *testing.T) {
	long(t)
	a := startApp(t, nil)
	host := a.join("host", "beep", false)
	host.WaitText("host: connected")
	alice := a.viewer("alice", "beep")

	var shared bool
	host.Eval(`(async () => {
		window.camera = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 }, audio: true })
		return document.querySelector("p2p-frame").shareStream(window.camera) })()`, &shared)
	if !shared {
		t.Fatal("shareStream returned false")
	}
	alice.WaitTrue(playing, "alice plays the host's camera")
	var tracks int
	alice.Eval(`document.getElementById("video-host").srcObject.getAudioTracks().length`, &tracks)
	if tracks != 1 {
		t.Fatalf("alice's stream has %d audio tracks, want 1", tracks)
	}
	alice.Do(chromedp.Click(chromedp.CSS("header"))) // a user gesture: an AudioContext may run
	alice.Eval(`(async () => {
		const ctx = new AudioContext()
		await ctx.resume()
		const an = ctx.createAnalyser()
		an.fftSize = 2048
		ctx.createMediaStreamSource(document.getElementById("video-host").srcObject).connect(an)
		const buf = new Float32Array(an.fftSize)
		window.peak = 0
		setInterval(() => { an.getFloatTimeDomainData(buf); for (const x of buf) window.peak = Math.max(window.peak, Math.abs(x)) }, 20)
	})()`, nil)
	alice.WaitTrue(`window.peak > 0.05`, "signal in the received audio (peak above 0.05)")
	var peak float64
	alice.Eval(`window.peak`, &peak)
	t.Logf("peak of the received audio: %.2f", peak)
}
