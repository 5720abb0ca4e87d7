package peer_test

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"golang.org/x/image/vp8"

	"github.com/p2pstreams/p2pstreams/internal/testvideo"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// testVideo is a VP8 track fed with internal/testvideo's frames (320×240,
// 30 fps) until the test ends.
func testVideo(t *testing.T, id, stream string) *webrtc.TrackLocalStaticSample {
	t.Helper()
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, id, stream)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		testvideo.Frames(stop, 320, 240, 0, 30, 0, func(f []byte, d time.Duration) error {
			track.WriteSample(media.Sample{Data: f, Duration: d})
			return nil
		})
	}()
	t.Cleanup(func() { close(stop); <-done }) // before the peers close
	return track
}

// recording is what a receiver got of one video track: an IVF file.
type recording struct {
	track   peer.Track
	mu      sync.Mutex
	ivf     bytes.Buffer
	ended   chan struct{} // the reader stopped: ReadRTP failed
	packets atomic.Int64
}

// record writes tr to IVF on a goroutine of its own, until it ends.
func record(t *testing.T, tr peer.Track) *recording {
	r := &recording{track: tr, ended: make(chan struct{})}
	go func() {
		defer close(r.ended)
		r.mu.Lock()
		w, err := ivfwriter.NewWith(&r.ivf, ivfwriter.WithCodec(tr.Remote.Codec().MimeType))
		r.mu.Unlock()
		if err != nil {
			t.Error(err)
			return
		}
		for {
			pkt, err := tr.ReadRTP()
			if err != nil {
				return
			}
			r.packets.Add(1)
			r.mu.Lock()
			err = w.WriteRTP(pkt)
			r.mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
		}
	}()
	return r
}

// frames returns the recording's frames (pion's IVF writer starts at the
// first keyframe).
func (r *recording) frames() [][]byte {
	r.mu.Lock()
	data := bytes.Clone(r.ivf.Bytes())
	r.mu.Unlock()
	rd, _, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		return nil
	}
	var fs [][]byte
	for {
		f, _, err := rd.ParseNextFrame()
		if err != nil {
			return fs
		}
		fs = append(fs, f)
	}
}

// decoded returns how many of the recording's frames VP8 decodes
// (golang.org/x/image/vp8 decodes keyframes only), and the size of the last.
func (r *recording) decoded() (n, width, height int) {
	d := vp8.NewDecoder()
	for _, f := range r.frames() {
		d.Init(bytes.NewReader(f), len(f))
		fh, err := d.DecodeFrameHeader()
		if err != nil {
			continue
		}
		if _, err := d.DecodeFrame(); err != nil {
			continue
		}
		n++
		width, height = fh.Width, fh.Height
	}
	return n, width, height
}

// tracks collects the recordings of the video tracks a peer receives.
type tracks struct {
	t  *testing.T
	mu sync.Mutex
	rs []*recording
}

func (ts *tracks) onTrack(tr peer.Track) {
	if tr.Remote.Kind() != webrtc.RTPCodecTypeVideo {
		return
	}
	r := record(ts.t, tr)
	ts.mu.Lock()
	ts.rs = append(ts.rs, r)
	ts.mu.Unlock()
}

// last is the latest track received from `from` (nil: none).
func (ts *tracks) last(from protocol.PeerID) *recording {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	for i := len(ts.rs) - 1; i >= 0; i-- {
		if ts.rs[i].track.From == from {
			return ts.rs[i]
		}
	}
	return nil
}

// playing waits for a track from `from` whose recording has at least n frames.
func (ts *tracks) playing(who string, from protocol.PeerID, n int) *recording {
	ts.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		r := ts.last(from)
		if r != nil && len(r.frames()) >= n {
			return r
		}
		if time.Now().After(deadline) {
			if r == nil {
				ts.t.Fatalf("not within 20 s: %s gets a track from %s", who, from)
			}
			ts.t.Fatalf("not within 20 s: %s records %s's video (%d RTP packets, %d frames from the first keyframe on)", who, from, r.packets.Load(), len(r.frames()))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func ended(t *testing.T, what string, r *recording) {
	t.Helper()
	select {
	case <-r.track.Done():
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: Track.Done not closed within 20 s", what)
	}
	select {
	case <-r.ended:
	case <-time.After(20 * time.Second):
		t.Fatalf("%s: ReadRTP still reading 20 s after Done", what)
	}
}

// mediaConfig is e.config with the browser's heartbeat (1 s / 4 s): video
// under -race on a loaded machine starves a 100 ms one.
func (e *env) mediaConfig(id string, r *rec) peer.Config {
	cfg := e.config("room", id, r)
	cfg.Heartbeat = peer.Heartbeat{}
	return cfg
}

// A Go host streams generated VP8; a Go client records it to IVF, and
// the frames decode at the stream's size.
func TestGoHostVideoRecordedByGoClient(t *testing.T) {
	e := newEnv(t)
	host := e.join(e.mediaConfig("host", &rec{}))
	if err := host.AddTrack(testVideo(t, "video", "host")); err != nil {
		t.Fatal(err)
	}
	got := &tracks{t: t}
	cfg := e.mediaConfig("alice", &rec{})
	cfg.OnTrack = got.onTrack
	e.join(cfg)
	r := got.playing("alice", "host", 30)
	n, w, h := r.decoded()
	if n < 30 || w != 320 || h != 240 {
		t.Errorf("decoded %d frames of %d×%d, want ≥ 30 of 320×240", n, w, h)
	}
}

// Go client → Go host → Go clients: a client's track reaches the host,
// which forwards it to the other clients (one there before, one that joins
// later) with its sharer, passes their keyframe requests up to it, and
// ends it for everyone when the sharer stops or leaves.
func TestGoClientTrackForwarded(t *testing.T) {
	e := newEnv(t)
	atHost := &tracks{t: t}
	hcfg := e.mediaConfig("host", &rec{})
	hcfg.OnTrack = atHost.onTrack
	e.join(hcfg)
	atBob, atCarol := &tracks{t: t}, &tracks{t: t}
	bcfg := e.mediaConfig("bob", &rec{})
	bcfg.OnTrack = atBob.onTrack
	e.join(bcfg)

	var keyframes atomic.Int64
	acfg := e.mediaConfig("alice", &rec{})
	acfg.OnKeyframeRequest = func(webrtc.TrackLocal) { keyframes.Add(1) }
	alice := e.join(acfg)
	joins := e.srv.Stats().Joins
	video := testVideo(t, "cam", "alice-cam")
	if err := alice.AddTrack(video); err != nil {
		t.Fatal(err)
	}
	host := atHost.playing("the host", "alice", 30) // read through the host's copy
	bob := atBob.playing("bob", "alice", 30)
	eventually(t, 10*time.Second, "a keyframe request reaches alice", func() bool { return keyframes.Load() > 0 })
	before := keyframes.Load()
	time.Sleep(300 * time.Millisecond) // past the keyframe requests' rate limit (not a timing assertion)
	ccfg := e.mediaConfig("carol", &rec{})
	ccfg.OnTrack = atCarol.onTrack
	e.join(ccfg)
	carol := atCarol.playing("carol, who joined later,", "alice", 30)
	eventually(t, 10*time.Second, "carol's joining asks alice for a keyframe", func() bool { return keyframes.Load() > before })
	for name, r := range map[string]*recording{"host": host, "bob": bob, "carol": carol} {
		if n, w, h := r.decoded(); n < 30 || w != 320 || h != 240 {
			t.Errorf("%s decoded %d frames of %d×%d, want ≥ 30 of 320×240", name, n, w, h)
		}
	}
	if j := e.srv.Stats().Joins; j != joins+1 {
		t.Errorf("joins %d → %d: a connection was rebuilt", joins, j)
	}

	if err := alice.RemoveTrack(video); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]*recording{"host": host, "bob": bob, "carol": carol} {
		ended(t, name+" after alice stopped", r)
	}

	// Shared again, then alice leaves: it ends too.
	if err := alice.AddTrack(video); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "bob gets alice's track again", func() bool {
		r := atBob.last("alice")
		return r != bob && r != nil && len(r.frames()) > 10
	})
	again := atBob.last("alice")
	closePeer(t, alice)
	ended(t, "bob's after alice left", again)
	if err := alice.AddTrack(video); !errors.Is(err, peer.ErrClosed) {
		t.Errorf("AddTrack on a closed peer: %v, want ErrClosed", err)
	}
}

// videoPlaying is a page expression: from's video in the demo's grid has
// a size, and its time and decoded frames advance.
func videoPlaying(from string) string {
	return `(() => { const v = document.querySelector('#videos figure[data-name="` + from + `"] video')
		if (!v || v.videoWidth === 0) return false
		const k = "t0_` + from + `"
		if (window[k] === undefined) { window[k] = [v.currentTime, v.getVideoPlaybackQuality().totalVideoFrames]; return false }
		return v.currentTime > window[k][0] + 0.3 && v.getVideoPlaybackQuality().totalVideoFrames > window[k][1] + 10 })()`
}

func videoGone(from string) string {
	return `!document.querySelector('#videos figure[data-name="` + from + `"]')`
}

// Go client → browser host → browser client: a Go client's generated
// video plays on the browser host's page and, forwarded, on a browser
// client's; it ends on both when the Go client stops sharing.
func TestGoClientVideoThroughBrowserHost(t *testing.T) {
	d := newDemoEnv(t)
	host := d.page("gcv", "host")
	host.WaitText("host: connected")
	bob := d.page("gcv", "bob")
	bob.WaitText("bob: connected")
	alice := d.join(d.goConfig("gcv", "alice", &rec{}))
	host.WaitText("alice: connected")
	video := testVideo(t, "cam", "alice-cam")
	if err := alice.AddTrack(video); err != nil {
		t.Fatal(err)
	}
	host.WaitTrue(videoPlaying("alice"), "alice's video playing on the browser host's page")
	bob.WaitTrue(videoPlaying("alice"), "alice's video, forwarded by the browser host, playing on bob's page")
	var size []int
	bob.Eval(`(v => [v.videoWidth, v.videoHeight])(document.querySelector('#videos figure[data-name="alice"] video'))`, &size)
	if len(size) != 2 || size[0] != 320 || size[1] != 240 {
		t.Errorf("bob's video of alice: %v, want [320 240]", size)
	}
	if err := alice.RemoveTrack(video); err != nil {
		t.Fatal(err)
	}
	host.WaitTrue(videoGone("alice"), "alice's video gone from the host's page")
	bob.WaitTrue(videoGone("alice"), "alice's video gone from bob's page")
}

// Browser client → Go host → Go client that joins late: the browser's
// camera (a real encoder, which sends keyframes only when asked) reaches
// the late viewer, whose keyframe request the host passes up: its
// recording starts with a keyframe and decodes.
func TestBrowserClientCameraThroughGoHost(t *testing.T) {
	d := newDemoEnv(t)
	d.join(d.goConfig("bcv", "host", &rec{}))
	bob := d.page("bcv", "bob")
	bob.WaitText("bob: connected")
	var shared bool
	bob.Eval(`(async () => {
		window.camera = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } })
		return document.querySelector("p2p-frame").shareStream(window.camera) })()`, &shared)
	if !shared {
		t.Fatal("shareStream returned false")
	}
	time.Sleep(3 * time.Second) // the camera's first keyframe long gone (not a timing assertion)
	got := &tracks{t: t}
	cfg := d.goConfig("bcv", "carol", &rec{})
	cfg.OnTrack = got.onTrack
	d.join(cfg)
	r := got.playing("carol", "bob", 30)
	if n, w, h := r.decoded(); n < 1 || w != 320 || h != 240 {
		t.Errorf("carol's recording: its first frame (a keyframe) did not decode at 320×240 (%d keyframes decoded, %d×%d)", n, w, h)
	}
	bob.Eval(`document.querySelector("p2p-frame").stopStream(window.camera)`, &shared)
	ended(t, "carol's track of bob's camera after bob stopped", r)
}

// clientsMayShare false: a Go client's AddTrack is refused at once; a
// client that sends anyway (its token says it may) is refused by the Go
// host, which tells it and its own app, and forwards nothing.
func TestGoClientsMayNotShare(t *testing.T) {
	e := newEnv(t)
	noShare := map[string]any{"clientsMayShare": false}
	errs := func(into *[]error, mu *sync.Mutex) func(error) {
		return func(err error) { mu.Lock(); *into = append(*into, err); mu.Unlock() }
	}
	var mu sync.Mutex
	var hostErrs, bobErrs []error
	hcfg := e.mediaConfig("host", &rec{})
	hcfg.Token = e.token("room", "host", noShare)
	hcfg.OnError = errs(&hostErrs, &mu)
	e.join(hcfg)
	acfg := e.mediaConfig("alice", &rec{})
	acfg.Token = e.token("room", "alice", noShare)
	atAlice := &tracks{t: t}
	acfg.OnTrack = atAlice.onTrack
	alice := e.join(acfg)
	video := testVideo(t, "cam", "cam")
	if err := alice.AddTrack(video); protocol.CodeOf(err) != protocol.CodeShareForbidden {
		t.Errorf("alice's AddTrack: %v, want share_forbidden", err)
	}
	bcfg := e.mediaConfig("bob", &rec{}) // a token that says it may
	bcfg.OnError = errs(&bobErrs, &mu)
	bob := e.join(bcfg)
	if err := bob.AddTrack(video); err != nil {
		t.Fatal(err)
	}
	has := func(es *[]error) func() bool {
		return func() bool {
			mu.Lock()
			defer mu.Unlock()
			for _, err := range *es {
				if protocol.CodeOf(err) == protocol.CodeShareForbidden {
					return true
				}
			}
			return false
		}
	}
	eventually(t, 20*time.Second, "the host reports bob's refused track", has(&hostErrs))
	eventually(t, 20*time.Second, "bob hears share_forbidden", has(&bobErrs))
	time.Sleep(time.Second) // what a forwarded track would have needed to arrive (not a timing assertion)
	if r := atAlice.last("bob"); r != nil {
		t.Error("alice got bob's refused track")
	}
}
