// Command record is a Go peer that joins a p2pstreams room and records what
// its peers share to disk: VP8 video to IVF files, Opus audio to Ogg files,
// one file per track, named after the sharer and the track. As a client it
// records the host's tracks and the other clients' (which the host
// forwards); as the host (the first to join), its clients'.
//
//	p2pstreams serve --secret 0123456789abcdef0123 &
//	# a browser opens the room and clicks Share camera, then:
//	go run ./examples/record --secret 0123456789abcdef0123 --room lobby --out /tmp/rec
//
// Play the files with any player that reads IVF and Ogg (ffplay, VLC).
// It signs its own token with the server's secret (package token), like
// examples/bot (internal/examplepeer). Other codecs (H.264 when a browser prefers it) are read
// and dropped, with a note on stderr.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media/ivfwriter"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"

	"github.com/p2pstreams/p2pstreams/internal/examplepeer"
	"github.com/p2pstreams/p2pstreams/peer"
)

func main() { examplepeer.Main("record", run) }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("record", flag.ContinueOnError)
	fs.SetOutput(stderr)
	join := examplepeer.Register(fs, "recorder")
	out := fs.String("out", ".", "directory for the recordings")
	frames := fs.Int("frames", 0, "stop once a video track has brought this many frames (0: record until interrupted); the file holds fewer when the first are not keyframes")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	cfg, err := join.Config(stderr)
	if err != nil {
		return err
	}
	rec := &recorder{dir: *out, frames: *frames, stdout: &examplepeer.SyncWriter{W: stdout}, stderr: &examplepeer.SyncWriter{W: stderr}, full: make(chan struct{})}
	cfg.OnTrack = rec.track
	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	p, err := peer.Join(jctx, cfg)
	if err != nil {
		return err
	}
	if p.IsHost() {
		fmt.Fprintf(rec.stdout, "joined room %q as its host: recording what its clients share into %s\n", p.SessionID(), *out)
	} else {
		fmt.Fprintf(rec.stdout, "joined room %q: recording what %s and its clients share into %s\n", p.SessionID(), p.HostID(), *out)
	}
	select {
	case <-ctx.Done():
	case <-p.Done():
	case <-rec.full:
	}
	examplepeer.Close(p) // ends every track: the writers close their files
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
	go func() { // read until the track ends (its sharer stops it or leaves, or we close)
		defer r.wg.Done()
		n := 0
		for {
			pkt, err := t.ReadRTP() // not Remote's: a host forwards its clients' tracks from it
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
