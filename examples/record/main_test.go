package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"golang.org/x/image/vp8"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo"
)

func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }

const secret = "record-test-secret-0123456789"

// serve starts a signaling server with the demo; it returns the server's
// http:// and ws:// signaling URLs.
func serve(t *testing.T) (httpURL, wsURL string) {
	t.Helper()
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/", demo.New(srv, demo.Options{}))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { hs.Close(); srv.Shutdown(context.Background()) })
	return hs.URL, "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/"
}

// record runs the example until it has frames video frames, in dir; it
// returns its stdout.
func record(t *testing.T, ctx context.Context, wsURL, room, dir string, frames int, joined chan<- struct{}) string {
	t.Helper()
	out, errOut := &lockedBuffer{}, &lockedBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-url", wsURL, "-secret", secret, "-room", room, "-out", dir,
			"-frames", itoa(frames), "-loopback"}, out, errOut)
	}()
	if joined != nil {
		waitFor(t, out, errOut, "joined room")
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
	_, wsURL := serve(t)
	bin := filepath.Join(t.TempDir(), "stream")
	if out, err := exec.Command("go", "build", "-o", bin, "../stream").CombinedOutput(); err != nil {
		t.Fatalf("go build ../stream: %v\n%s", err, out)
	}
	var out, errOut lockedBuffer
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
	waitFor(t, &out, &errOut, "streaming to room")
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
	httpURL, wsURL := serve(t)
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
}

func waitFor(t *testing.T, out, errOut *lockedBuffer, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q (stderr %q)", text, out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
