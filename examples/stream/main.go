// Command stream is a Go host that streams video to every peer of a
// p2pstreams room: an IVF file (VP8, e.g. one examples/record wrote), or,
// without one, a generated VP8 video (flat grey keyframes of a set size and
// rate, package internal/testvideo). Browsers that join the room play it:
// the demo shows it in its grid of shared videos.
//
//	p2pstreams serve --secret 0123456789abcdef0123 &
//	go run ./examples/stream --secret 0123456789abcdef0123 --room lobby --ivf video.ivf
//	# then open the room in a browser: http://127.0.0.1:8080/room?name=alice&room=lobby
//
// As the room's host (the first to join) it sends the video to every
// client, and to clients that join later; as a client it sends it to the
// host (a browser or a Go peer), which forwards it to every other client.
// It signs its own
// token with the server's secret (package token), like examples/bot
// (internal/examplepeer).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"

	"github.com/p2pstreams/p2pstreams/internal/examplepeer"
	"github.com/p2pstreams/p2pstreams/internal/testvideo"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
)

func main() { examplepeer.Main("stream", run) }

// options are the video's: a file, or the generated one's size and rate.
type options struct {
	ivf                  string
	width, height, bytes int
	fps, frames          int
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("stream", flag.ContinueOnError)
	fs.SetOutput(stderr)
	join := examplepeer.Register(fs, "streamer")
	var o options
	fs.StringVar(&o.ivf, "ivf", "", "a VP8 IVF file to stream, over and over (default: a generated video)")
	fs.IntVar(&o.width, "width", 320, "generated video: width")
	fs.IntVar(&o.height, "height", 240, "generated video: height")
	fs.IntVar(&o.bytes, "bytes", 0, "generated video: pad every frame to this many bytes (models a bitrate: bytes × fps × 8 bit/s)")
	fs.IntVar(&o.fps, "fps", 30, "generated video: frames per second")
	fs.IntVar(&o.frames, "frames", 0, "stop after this many frames (0: until interrupted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.ivf != "" { // fail before joining
		if err := checkIVF(o.ivf); err != nil {
			return err
		}
	}
	cfg, err := join.Config(stderr)
	if err != nil {
		return err
	}
	cfg.OnPeers = func(m map[protocol.PeerID]peer.State) { fmt.Fprintf(stdout, "peers: %d\n", len(m)) }
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := peer.Join(jctx, cfg)
	if err != nil {
		return err
	}
	defer examplepeer.Close(p)
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", join.Name)
	if err != nil {
		return err
	}
	if err := p.AddTrack(track); err != nil {
		return err
	}
	role := "its host"
	if !p.IsHost() {
		role = "a client of " + string(p.HostID())
	}
	fmt.Fprintf(stdout, "streaming to room %q as %s\n", p.SessionID(), role)

	stop := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
		case <-p.Done():
		}
		close(stop)
	}()
	write := func(frame []byte, d time.Duration) error {
		return track.WriteSample(media.Sample{Data: frame, Duration: d})
	}
	if o.ivf != "" {
		err = streamIVF(stop, o.ivf, o.frames, write)
	} else {
		err = testvideo.Frames(stop, o.width, o.height, o.bytes, o.fps, o.frames, write)
	}
	if err != nil {
		return err
	}
	if err := p.Err(); err != nil && !errors.Is(err, peer.ErrClosed) {
		return err
	}
	return nil
}

// checkIVF opens path and reads its header: a VP8 IVF file.
func checkIVF(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	_, h, err := ivfreader.NewWith(f)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if h.FourCC != "VP80" {
		return fmt.Errorf("%s: codec %q, want VP80", path, h.FourCC)
	}
	return nil
}

// streamIVF sends path's frames at the file's own rate, from the start
// again at its end, until stop is closed or n frames went (n > 0).
func streamIVF(stop <-chan struct{}, path string, n int, send func([]byte, time.Duration) error) error {
	for left := n; ; {
		sent, done, err := streamOnce(stop, path, left, send)
		if err != nil || done {
			return err
		}
		if sent == 0 {
			return fmt.Errorf("%s: no frames", path)
		}
		left -= sent
	}
}

// streamOnce sends path's frames once (at most n, n > 0); done: stopped
// or n sent.
func streamOnce(stop <-chan struct{}, path string, n int, send func([]byte, time.Duration) error) (sent int, done bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	r, h, err := ivfreader.NewWith(f)
	if err != nil {
		return 0, false, err
	}
	d := time.Second / 30 // when the timebase is not a frame duration (e.g. 1/90000)
	if h.TimebaseNumerator > 0 && h.TimebaseDenominator > 0 {
		if td := time.Duration(h.TimebaseNumerator) * time.Second / time.Duration(h.TimebaseDenominator); td >= time.Millisecond && td <= time.Second {
			d = td
		}
	}
	tick := time.NewTicker(d)
	defer tick.Stop()
	for {
		frame, _, err := r.ParseNextFrame()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return sent, false, nil
		}
		if err != nil {
			return sent, false, err
		}
		if err := send(frame, d); err != nil {
			return sent, false, err
		}
		if sent++; n > 0 && sent >= n {
			return sent, true, nil
		}
		select {
		case <-stop:
			return sent, true, nil
		case <-tick.C:
		}
	}
}
