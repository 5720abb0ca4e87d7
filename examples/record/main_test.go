package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
	"golang.org/x/image/vp8"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/examplepeer/examplepeertest"
)

func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }

const secret = "record-test-secret-0123456789"

// record runs the example until it has frames video frames, in dir; it
// returns its stdout.
func record(t *testing.T, ctx context.Context, wsURL, room, dir string, frames int, joined chan<- struct{}) string {
	t.Helper()
	out, errOut := &examplepeertest.Buffer{}, &examplepeertest.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-url", wsURL, "-secret", secret, "-room", room, "-out", dir,
			"-frames", itoa(frames), "-loopback"}, out, errOut)
	}()
	if joined != nil {
		examplepeertest.WaitFor(t, out, errOut, "joined room")
		close(joined)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("record: %v (stderr: %s)", err, errOut.String())
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("record did not get %d frames: %q %q", frames, out.String(), errOut.String())
	}
	return out.String()
}

// checkIVF reads the one IVF file in dir: at least want frames, the first
// a keyframe that decodes (golang.org/x/image/vp8) to width × height.
func checkIVF(t *testing.T, dir string, want, width, height int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.ivf"))
	if len(files) != 1 {
		t.Fatalf("IVF files in %s: %v, want one", dir, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	r, h, err := ivfreader.NewWith(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if h.FourCC != "VP80" {
		t.Errorf("fourcc %q, want VP80", h.FourCC)
	}
	n := 0
	for {
		f, _, err := r.ParseNextFrame()
		if err != nil {
			break
		}
		if n == 0 {
			d := vp8.NewDecoder()
			d.Init(bytes.NewReader(f), len(f))
			fh, err := d.DecodeFrameHeader()
			if err != nil || !fh.KeyFrame {
				t.Fatalf("first frame: %+v, %v; want a keyframe", fh, err)
			}
			if _, err := d.DecodeFrame(); err != nil {
				t.Fatalf("first frame does not decode: %v", err)
			}
			if width > 0 && (fh.Width != width || fh.Height != height) {
				t.Errorf("first frame %dx%d, want %dx%d", fh.Width, fh.Height, width, height)
			}
		}
		n++
	}
	if n < want {
		t.Errorf("%s holds %d frames, want at least %d", files[0], n, want)
	}
	t.Logf("%s: %d frames, %d bytes", filepath.Base(files[0]), n, len(data))
}

// Go ↔ Go: examples/stream, built and run as its own process, hosts the
// room; the recorder joins and writes what it sends to an IVF file whose
// frames decode.
func TestRecordsGoStream(t *testing.T) {
	_, wsURL := examplepeertest.Serve(t, secret)
	bin := filepath.Join(t.TempDir(), "stream")
	if out, err := exec.Command("go", "build", "-o", bin, "../stream").CombinedOutput(); err != nil {
		t.Fatalf("go build ../stream: %v\n%s", err, out)
	}
	var out, errOut examplepeertest.Buffer
	cmd := exec.Command(bin, "-url", wsURL, "-secret", secret, "-room", "gogo", "-loopback", "-width", "160", "-height", "96")
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(os.Interrupt)
		if err := cmd.Wait(); err != nil {
			t.Errorf("stream: %v (stderr: %s)", err, errOut.String())
		}
	}()
	examplepeertest.WaitFor(t, &out, &errOut, "streaming to room")
	dir := t.TempDir()
	stdout := record(t, context.Background(), wsURL, "gogo", dir, 40, nil)
	if !strings.Contains(stdout, "recording streamer's video/VP8 track") {
		t.Errorf("record's output: %q", stdout)
	}
	checkIVF(t, dir, 40, 160, 96)
}

// A browser host (the demo page) clicks Share camera; the recorder writes
// its fake camera to an IVF file whose frames decode.
func TestRecordsBrowserCamera(t *testing.T) {
	b := browsertest.Shared(t)
	httpURL, wsURL := examplepeertest.Serve(t, secret)
	host := b.NewPage(t)
	host.Navigate(httpURL + "/room?name=host&room=cam")
	host.WaitText("host: connected")
	joined := make(chan struct{})
	go func() {
		<-joined
		host.WaitText("recorder: connected")
		host.WaitTrue(`!document.getElementById("share").hidden`, "the Share camera button")
		host.Do(chromedp.Click(chromedp.CSS("#share")))
	}()
	dir := t.TempDir()
	record(t, context.Background(), wsURL, "cam", dir, 60, joined)
	checkIVF(t, dir, 30, 0, 0) // ivfwriter drops the frames before the first keyframe
	checkOgg(t, dir, 10)       // the demo shares the fake microphone too
}

// checkOgg reads the one Ogg file in dir: an Opus head, at least want pages.
func checkOgg(t *testing.T, dir string, want int) {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(dir, "*.ogg"))
	if len(files) != 1 {
		t.Fatalf("Ogg files in %s: %v, want one", dir, files)
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	r, h, err := oggreader.NewWith(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if h.SampleRate != 48000 {
		t.Errorf("Opus head: %+v, want 48 kHz", h)
	}
	n := 0
	for {
		if _, _, err := r.ParseNextPage(); err != nil {
			break
		}
		n++
	}
	if n < want {
		t.Errorf("%s holds %d pages, want at least %d", files[0], n, want)
	}
	t.Logf("%s: %d pages, %d bytes", filepath.Base(files[0]), n, len(data))
}

func itoa(n int) string { return strconv.Itoa(n) }
