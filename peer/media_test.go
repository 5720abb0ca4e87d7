package peer_test

import (
	"bytes"
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"

	"github.com/p2pstreams/p2pstreams/peer"
)

// counted returns a client config whose OnTrack counts the RTP packets of
// every track from the host in n.
func (e *env) counted(t *testing.T, id string, n *atomic.Int64) peer.Config {
	cfg := e.config("room", id, &rec{})
	cfg.OnTrack = func(tr peer.Track) {
		if tr.From != "host" {
			t.Errorf("%s: a track from %q", id, tr.From)
		}
		go func() {
			for {
				if _, err := tr.ReadRTP(); err != nil {
					return
				}
				n.Add(1)
			}
		}()
	}
	return cfg
}

// Go ↔ Go: the host's track reaches the client that is there and one that
// joins later, added to live connections and negotiated over their
// DataChannels.
func TestHostTrackReachesEveryClient(t *testing.T) {
	e := newEnv(t)
	host := e.join(e.config("room", "host", &rec{}))
	var na, nb atomic.Int64
	alice := e.join(e.counted(t, "alice", &na))
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "host")
	if err != nil {
		t.Fatal(err)
	}
	if err := host.AddTrack(track); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // a made-up 30 fps video: the payloader does not look inside
		defer wg.Done()
		tick := time.NewTicker(33 * time.Millisecond)
		defer tick.Stop()
		frame := bytes.Repeat([]byte{0x42}, 3000)
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				track.WriteSample(media.Sample{Data: frame, Duration: 33 * time.Millisecond})
			}
		}
	}()
	t.Cleanup(func() { close(stop); wg.Wait() }) // before the peers close
	eventually(t, 10*time.Second, "alice gets the host's track", func() bool { return na.Load() > 20 })
	joins := e.srv.Stats().Joins
	e.join(e.counted(t, "bob", &nb))
	eventually(t, 10*time.Second, "bob, who joined later, gets it too", func() bool { return nb.Load() > 20 })
	if j := e.srv.Stats().Joins; j != joins+1 {
		t.Errorf("joins %d → %d: a connection was rebuilt", joins, j)
	}
	if err := alice.Send(context.Background(), "still chatting"); err != nil {
		t.Fatal(err)
	}
}

// A browser host's (fake) camera, recorded by a Go client to IVF: the
// file holds frames, the first a VP8 keyframe.
func TestBrowserHostCameraToGoClient(t *testing.T) {
	d := newDemoEnv(t)
	host := d.page("rec", "host")
	host.WaitText("host: connected")
	var mu sync.Mutex
	var ivf bytes.Buffer
	var frames atomic.Int64
	done := make(chan struct{})
	cfg := d.goConfig("rec", "alice", &rec{})
	cfg.OnTrack = func(tr peer.Track) {
		if tr.Remote.Kind() != webrtc.RTPCodecTypeVideo {
			return
		}
		go func() {
			defer close(done)
			mu.Lock()
			w, err := ivfwriter.NewWith(&ivf, ivfwriter.WithCodec(tr.Remote.Codec().MimeType))
			mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
			defer w.Close()
			for frames.Load() < 40 {
				pkt, _, err := tr.Remote.ReadRTP()
				if err != nil {
					return
				}
				mu.Lock()
				err = w.WriteRTP(pkt)
				mu.Unlock()
				if err != nil {
					t.Error(err)
					return
				}
				if pkt.Marker {
					frames.Add(1)
				}
			}
		}()
	}
	d.join(cfg)
	host.WaitText("alice: connected")
	var shared bool
	host.Eval(`(async () => {
		window.camera = await navigator.mediaDevices.getUserMedia({ video: { width: 320, height: 240 } })
		return document.querySelector("p2p-frame").shareStream(window.camera) })()`, &shared)
	if !shared {
		t.Fatal("shareStream returned false")
	}
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatalf("recorded %d frames in 20 s", frames.Load())
	}
	mu.Lock()
	r, _, err := ivfreader.NewWith(bytes.NewReader(ivf.Bytes()))
	mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for {
		f, _, err := r.ParseNextFrame()
		if err != nil {
			break
		}
		if n == 0 && (len(f) < 10 || f[0]&1 != 0 || !bytes.Equal(f[3:6], []byte{0x9d, 0x01, 0x2a})) {
			t.Errorf("the first frame is not a VP8 keyframe: % x", f[:min(len(f), 10)])
		}
		n++
	}
	if n < 20 {
		t.Errorf("the IVF file holds %d frames, want at least 20", n)
	}
	t.Logf("recorded %d frames (%d bytes of IVF)", n, ivf.Len())
}
