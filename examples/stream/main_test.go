package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/examplepeer/examplepeertest"
	"github.com/p2pstreams/p2pstreams/internal/testvideo"
)

func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }

// A Go host streams the generated video; a browser client in the demo
// plays it: the video has the stream's size, frames decoded, time advancing.
func TestStreamPlaysInBrowser(t *testing.T) {
	b := browsertest.Shared(t)
	const secret = "stream-test-secret-0123456789"
	httpURL, wsURL := examplepeertest.Serve(t, secret)

	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &examplepeertest.Buffer{}, &examplepeertest.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-url", wsURL, "-secret", secret,
			"-room", "movie", "-loopback", "-width", "320", "-height", "180"}, out, errOut)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v (stderr: %s)", err, errOut.String())
		}
	}()
	examplepeertest.WaitFor(t, out, errOut, "streaming to room")

	p := b.NewPage(t)
	p.Navigate(httpURL + "/room?name=alice&room=movie")
	p.WaitText("alice: connected")
	video := `document.querySelector('#videos figure[data-name="streamer"] video')`
	p.WaitTrue(`(() => { const v = `+video+`
		if (!v || v.videoWidth === 0) return false
		if (window.t0 === undefined) { window.t0 = v.currentTime; return false }
		return v.currentTime > window.t0 + 0.3 && v.getVideoPlaybackQuality().totalVideoFrames > 10 })()`,
		"the streamer's video playing on alice's page")
	var size []int
	p.Eval(`[`+video+`.videoWidth, `+video+`.videoHeight]`, &size)
	if len(size) != 2 || size[0] != 320 || size[1] != 180 {
		t.Errorf("video size %v, want [320 180]", size)
	}
}

// streamIVF sends a file's frames in order, from the start again at its
// end, and stops after n.
func TestStreamIVFLoops(t *testing.T) {
	var frames [][]byte
	for _, w := range []int{16, 32, 48} {
		f, err := testvideo.Keyframe(w, 16, 0)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, f)
	}
	path := filepath.Join(t.TempDir(), "three.ivf")
	if err := os.WriteFile(path, ivf(frames), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkIVF(path); err != nil {
		t.Fatal(err)
	}
	var got [][]byte
	err := streamIVF(nil, path, 7, func(f []byte, d time.Duration) error {
		if d != time.Second/1000 {
			t.Errorf("duration %v, want the file's 1 ms", d)
		}
		got = append(got, bytes.Clone(f))
		return nil
	})
	if err != nil || len(got) != 7 {
		t.Fatalf("streamIVF: %d frames, %v; want 7", len(got), err)
	}
	for i, f := range got {
		if !bytes.Equal(f, frames[i%3]) {
			t.Errorf("frame %d is not the file's frame %d", i, i%3)
		}
	}
	if err := os.WriteFile(path, []byte("not an ivf file, not at all"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := checkIVF(path); err == nil {
		t.Error("checkIVF took a file that is not IVF")
	}
}

// ivf is an IVF file (VP8, timebase 1/1000) of frames.
func ivf(frames [][]byte) []byte {
	var b bytes.Buffer
	b.WriteString("DKIF")
	binary.Write(&b, binary.LittleEndian, []uint16{0, 32})
	b.WriteString("VP80")
	binary.Write(&b, binary.LittleEndian, []uint16{16, 16})
	binary.Write(&b, binary.LittleEndian, []uint32{1000, 1, uint32(len(frames)), 0})
	for i, f := range frames {
		binary.Write(&b, binary.LittleEndian, uint32(len(f)))
		binary.Write(&b, binary.LittleEndian, uint64(i))
		b.Write(f)
	}
	return b.Bytes()
}
