// Command record is a Go peer that joins a p2pstreams room as a client and
// records what the host shares to disk: VP8 video to IVF files, Opus audio
// to Ogg files, one file per track, named after the sharer and the track.
//
//	p2pstreams serve --secret 0123456789abcdef0123 &
//	# a browser opens the room first (the host) and clicks Share camera, then:
//	go run ./examples/record --secret 0123456789abcdef0123 --room lobby --out /tmp/rec
//
// Play the files with any player that reads IVF and Ogg (ffplay, VLC).
// It signs its own token with the server's secret (package token), like
// examples/bot. Other codecs (H.264 when a browser prefers it) are read
// and dropped, with a note on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "record:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "ws://127.0.0.1:8080/p2p/", "signaling endpoint of the server")
	secret := fs.String("secret", os.Getenv("P2PSTREAMS_SECRET"), "the server's token secret (env P2PSTREAMS_SECRET)")
	room := fs.String("room", "lobby", "room (session) to join")
	name := fs.String("name", "recorder", "this peer's id in the room")
	out := fs.String("out", ".", "directory for the recordings")
	frames := fs.Int("frames", 0, "stop once a video track has brought this many frames (0: record until interrupted); the file holds fewer when the first are not keyframes")
	loopback := fs.Bool("loopback", false, "use 127.0.0.1 only (tests, and browsers started with --allow-loopback-in-peer-connection)")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	tok, err := token.Issue([]byte(*secret), token.Claims{
		Session: protocol.SessionID(*room), Peer: protocol.PeerID(*name),
		Expires: time.Now().Add(12 * time.Hour).Unix(),
	})
	if err != nil {
		return fmt.Errorf("token (is --secret the server's?): %w", err)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	rec := &recorder{dir: *out, frames: *frames, stdout: &syncWriter{w: stdout}, stderr: &syncWriter{w: stderr}, full: make(chan struct{})}
	cfg := peer.Config{
		URL: *url, Token: tok,
		Logger:  slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
		OnTrack: rec.track,
	}
	if *loopback {
		cfg.API = peertest.LoopbackAPI()
	}
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := peer.Join(jctx, cfg)
	if err != nil {
		return err
	}
	if p.IsHost() {
		fmt.Fprintf(rec.stdout, "joined room %q as its host: waiting for a host to record (the recorder should join after it)\n", p.SessionID())
	} else {
		fmt.Fprintf(rec.stdout, "joined room %q: recording %s's tracks into %s\n", p.SessionID(), p.HostID(), *out)
	}
	select {
	case <-ctx.Done():
	case <-p.Done():
	case <-rec.full:
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	p.Close(cctx) // ends every track: the writers close their files
	rec.wg.Wait()
	if err := p.Err(); err != nil && !errors.Is(err, peer.ErrClosed) {
		return err
	}
	return nil
}

// recorder writes each received track to a file of its own.
type recorder struct {
	dir            string
	frames         int
	stdout, stderr io.Writer
	wg             sync.WaitGroup
	once           sync.Once
	full           chan struct{} // closed when a video track has frames frames
}

// writer is what ivfwriter and oggwriter both are.
type writer interface {
	WriteRTP(*rtp.Packet) error
	Close() error
}

func (r *recorder) track(t peer.Track) {
	codec := t.Remote.Codec()
	base := filepath.Join(r.dir, safe(string(t.From))+"-"+safe(t.Remote.ID()))
	var w writer
	var err error
	path := ""
	switch strings.ToLower(codec.MimeType) {
	case strings.ToLower(webrtc.MimeTypeVP8):
		path = base + ".ivf"
		w, err = ivfwriter.New(path, ivfwriter.WithCodec(codec.MimeType))
	case strings.ToLower(webrtc.MimeTypeOpus):
		path = base + ".ogg"
		w, err = oggwriter.New(path, codec.ClockRate, max(codec.Channels, 1))
	default:
		fmt.Fprintf(r.stderr, "record: %s sends %s, which this example does not write: dropped\n", t.From, codec.MimeType)
	}
	if err != nil {
		fmt.Fprintln(r.stderr, "record:", err)
		w = nil
	}
	if path != "" && w != nil {
		fmt.Fprintf(r.stdout, "recording %s's %s track to %s\n", t.From, codec.MimeType, path)
	}
	video := t.Remote.Kind() == webrtc.RTPCodecTypeVideo
	r.wg.Add(1)
	go func() { // read until the track ends (the host stops it, leaves, or we close)
		defer r.wg.Done()
		n := 0
		for {
			pkt, _, err := t.Remote.ReadRTP()
			if err != nil {
				break
			}
			if w == nil {
				continue
			}
			if err := w.WriteRTP(pkt); err != nil {
				fmt.Fprintln(r.stderr, "record:", err)
				break
			}
			if video && pkt.Marker { // the last packet of a frame
				n++
				if n == r.frames {
					r.once.Do(func() { close(r.full) })
				}
			}
		}
		if w != nil {
			if err := w.Close(); err != nil {
				fmt.Fprintln(r.stderr, "record:", err)
			}
			fmt.Fprintf(r.stdout, "closed %s (%d video frames)\n", path, n)
		}
	}()
}

// safe keeps letters, digits, '-' and '_' of s, for a file name.
func safe(s string) string {
	s = strings.Map(func(c rune) rune {
		if c == '-' || c == '_' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			return c
		}
		return '_'
	}, s)
	if s == "" {
		return "_"
	}
	return s
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
