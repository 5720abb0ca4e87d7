package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/p2pstreams/p2pstreams/internal/testvideo"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// The media scenario: a Go host (package peer) sends VP8 video
// (internal/testvideo keyframes padded to the size a bitrate gives) to Go
// viewers through the server, all in this process (the server is spawned
// or in-process, as Target says). It measures join to first frame, the
// CPU and uplink per viewer at each bitrate, and how many viewers one host
// serves before frames drop. The CPU is this process's: the host and its
// viewers together (and the server too with an in-process target), an
// upper bound for the host alone. With Config.Forward a Go client sends
// the video and the host forwards it (its CPU then includes the sharer's).

// mediaFigures are the media scenario's results.
type mediaFigures struct {
	FPS    int `json:"fps"`
	Width  int `json:"width"`
	Height int `json:"height"`
	// JoinToFirstFrame: a viewer's Join called to its first whole frame
	// received (the frame after the first marker: the host already streaming).
	JoinToFirstFrame Latency       `json:"join_to_first_frame"`
	JoinFailures     int           `json:"join_failures"`
	Loads            []mediaLoad   `json:"loads"`
	Capacity         mediaCapacity `json:"capacity"`
}

// mediaLoad is one host with Viewers viewers at one bitrate.
type mediaLoad struct {
	Kbps       float64 `json:"kbps"`        // asked: FrameBytes × FPS × 8
	FrameBytes int     `json:"frame_bytes"` // each frame as the host writes it
	Viewers    int     `json:"viewers"`
	// RTPKbpsPerViewer is the RTP (header + payload) a viewer received:
	// the host's uplink per viewer, less SRTP, UDP and IP overhead.
	RTPKbpsPerViewer float64 `json:"rtp_kbps_per_viewer"`
	// CPUPct is this process's CPU over the window, in % of one core;
	// CPUPctPerViewer is that over the viewers.
	CPUPct          float64 `json:"cpu_pct"`
	CPUPctPerViewer float64 `json:"cpu_pct_per_viewer"`
	// SentFPS is the frames the host wrote per second (fewer than FPS when
	// the machine is too busy to keep up); Delivered is the worst viewer's
	// whole frames (every packet of it) received over frames sent.
	SentFPS   float64 `json:"sent_fps"`
	Delivered float64 `json:"delivered"`
	Seconds   float64 `json:"seconds"`
}

// mediaCapacity is the viewer ramp at the first bitrate: viewers double
// while every viewer gets at least mediaSustained of the frames.
type mediaCapacity struct {
	Kbps      float64     `json:"kbps"`
	Sustained int         `json:"viewers_sustained"` // the most viewers with no frames dropped (0: not even one)
	Steps     []mediaLoad `json:"steps"`
	Stopped   string      `json:"stopped"` // why the ramp ended
}

const (
	mediaWidth, mediaHeight = 320, 240
	mediaSustained          = 0.95 // frames a viewer must get of those sent
)

func runMedia(ctx context.Context, r *runner, t target) (any, error) {
	c := r.cfg
	f := &mediaFigures{FPS: c.FPS, Width: mediaWidth, Height: mediaHeight}
	m := &mediaRun{r: r, t: t, api: peertest.LoopbackAPI(), window: c.MediaWindow}
	if err := m.dialer(); err != nil {
		return nil, err
	}

	// Join to first frame: a fresh room each time, the host streaming.
	var lat []time.Duration
	for i := range c.Trials {
		room, err := m.room(ctx, fmt.Sprintf("mediajoin-%d", i), c.Bitrates[0])
		if err != nil {
			return nil, err
		}
		v, d, err := room.join(ctx)
		if err == nil {
			select {
			case <-v.first:
				lat = append(lat, time.Since(d))
			case <-time.After(joinTimeout):
				err = errors.New("no frame")
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		if err != nil {
			f.JoinFailures++
		}
		room.close()
	}
	f.JoinToFirstFrame = summarize(lat)

	for _, kbps := range c.Bitrates {
		room, err := m.room(ctx, fmt.Sprintf("media-%g", kbps), kbps)
		if err != nil {
			return nil, err
		}
		load, err := room.grow(ctx, c.N)
		room.close()
		if err != nil {
			return nil, err
		}
		f.Loads = append(f.Loads, load)
	}

	f.Capacity.Kbps = c.Bitrates[0]
	room, err := m.room(ctx, "media-capacity", c.Bitrates[0])
	if err != nil {
		return nil, err
	}
	defer room.close()
	for n := 1; ; n *= 2 {
		n = min(n, c.MaxViewers)
		load, err := room.grow(ctx, n)
		if err != nil {
			f.Capacity.Stopped = fmt.Sprintf("%d viewers: %v", n, reason(err))
			break
		}
		f.Capacity.Steps = append(f.Capacity.Steps, load)
		if load.Delivered < mediaSustained {
			f.Capacity.Stopped = fmt.Sprintf("%d viewers: frames dropped", n)
			break
		}
		f.Capacity.Sustained = n
		if n == c.MaxViewers {
			f.Capacity.Stopped = "max viewers reached (-max-viewers)"
			break
		}
	}
	return f, nil
}

// mediaRun is what every room of one run shares.
type mediaRun struct {
	r      *runner
	t      target
	api    *webrtc.API
	d      *dialer
	window time.Duration
}

func (m *mediaRun) dialer() (err error) {
	m.d, err = newDialer(m.t.url(), m.r.cfg.Sources)
	return err
}

// mediaRoom is one host streaming to its viewers.
type mediaRoom struct {
	m       *mediaRun
	session protocol.SessionID
	kbps    float64
	bytes   int
	host    *peer.Peer
	sharer  *peer.Peer // Config.Forward: the client whose video the host forwards
	viewers []*viewer
	sent    atomic.Int64 // frames written
	stop    chan struct{}
	wg      sync.WaitGroup
}

// viewer counts what it receives: bytes, and whole frames (every packet
// from the one after the last frame's marker to this frame's marker).
type viewer struct {
	p             *peer.Peer
	frames, bytes atomic.Int64
	first         chan struct{} // closed at the first whole frame
	once          sync.Once
}

// room joins a host to session and starts its video at kbps.
func (m *mediaRun) room(ctx context.Context, session string, kbps float64) (*mediaRoom, error) {
	fps := m.r.cfg.FPS
	room := &mediaRoom{m: m, session: protocol.SessionID(session), kbps: kbps,
		bytes: int(kbps * 1000 / 8 / float64(fps)), stop: make(chan struct{})}
	host, err := m.join(ctx, room.session, "host", nil)
	if err != nil {
		return nil, fmt.Errorf("host: %w", err)
	}
	room.host = host
	sender := host
	if m.r.cfg.Forward { // the host forwards a client's video
		if sender, err = m.join(ctx, room.session, "sharer", nil); err != nil {
			room.close()
			return nil, fmt.Errorf("sharer: %w", err)
		}
		room.sharer = sender
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", string(sender.ID()))
	if err == nil {
		err = sender.AddTrack(track)
	}
	if err != nil {
		room.close()
		return nil, err
	}
	room.wg.Add(1)
	go func() {
		defer room.wg.Done()
		testvideo.Frames(room.stop, mediaWidth, mediaHeight, room.bytes, fps, 0, func(f []byte, d time.Duration) error {
			room.sent.Add(1)
			return track.WriteSample(media.Sample{Data: f, Duration: d})
		})
	}()
	return room, nil
}

func (m *mediaRun) join(ctx context.Context, session protocol.SessionID, id string, onTrack func(peer.Track)) (*peer.Peer, error) {
	tok, err := token.Issue(m.r.secret, token.Claims{Session: session, Peer: peerID(id), Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		return nil, err
	}
	src := m.d.sources[0]
	jctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	return peer.Join(jctx, peer.Config{
		URL: m.t.url(), Token: tok, API: m.api, ManualFailover: true, OnTrack: onTrack,
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}
			return nd.DialContext(ctx, network, addr)
		},
	})
}

// join adds a viewer; it returns it and when its Join was called.
func (room *mediaRoom) join(ctx context.Context) (*viewer, time.Time, error) {
	v := &viewer{first: make(chan struct{})}
	onTrack := func(tr peer.Track) {
		room.wg.Add(1)
		go func() {
			defer room.wg.Done()
			var lastMarker uint16
			since, seen := 0, false // packets since the last marker; a marker seen
			for {
				pkt, _, err := tr.Remote.ReadRTP()
				if err != nil {
					return
				}
				v.bytes.Add(int64(pkt.MarshalSize()))
				since++
				if !pkt.Marker {
					continue
				}
				if seen && int(pkt.SequenceNumber-lastMarker) == since {
					v.frames.Add(1)
					v.once.Do(func() { close(v.first) })
				}
				lastMarker, since, seen = pkt.SequenceNumber, 0, true
			}
		}()
	}
	t0 := time.Now()
	p, err := room.m.join(ctx, room.session, fmt.Sprintf("viewer-%d", len(room.viewers)), onTrack)
	if err != nil {
		return nil, t0, err
	}
	v.p = p
	room.viewers = append(room.viewers, v)
	return v, t0, nil
}

// grow adds viewers up to n, waits until each gets frames, and measures
// one window.
func (room *mediaRoom) grow(ctx context.Context, n int) (mediaLoad, error) {
	for len(room.viewers) < n {
		if _, _, err := room.join(ctx); err != nil {
			return mediaLoad{}, err
		}
	}
	for _, v := range room.viewers {
		select {
		case <-v.first:
		case <-time.After(joinTimeout):
			return mediaLoad{}, errors.New("a viewer got no frame")
		case <-ctx.Done():
			return mediaLoad{}, ctx.Err()
		}
	}
	return room.measure(ctx)
}

// measure counts frames, bytes and CPU over one window.
func (room *mediaRoom) measure(ctx context.Context) (mediaLoad, error) {
	frames0, bytes0 := room.counts()
	sent0 := room.sent.Load()
	cpu0, err := selfCPU()
	if err != nil {
		return mediaLoad{}, err
	}
	t0 := time.Now()
	select {
	case <-time.After(room.m.window):
	case <-ctx.Done():
		return mediaLoad{}, ctx.Err()
	}
	sec := time.Since(t0).Seconds()
	cpu1, _ := selfCPU()
	frames1, bytes1 := room.counts()
	sent := float64(room.sent.Load() - sent0)
	n := len(room.viewers)
	l := mediaLoad{Kbps: room.kbps, FrameBytes: room.bytes, Viewers: n, Seconds: round(sec), Delivered: 1, SentFPS: round(sent / sec)}
	var total int64
	for i := range frames1 {
		total += bytes1[i] - bytes0[i]
		if sent > 0 {
			l.Delivered = min(l.Delivered, float64(frames1[i]-frames0[i])/sent)
		}
	}
	l.Delivered = round(l.Delivered)
	l.RTPKbpsPerViewer = round(float64(total) * 8 / 1000 / sec / float64(n))
	l.CPUPct = round((cpu1 - cpu0) / sec * 100)
	l.CPUPctPerViewer = round(l.CPUPct / float64(n))
	return l, nil
}

func (room *mediaRoom) counts() (frames, bytes []int64) {
	for _, v := range room.viewers {
		frames = append(frames, v.frames.Load())
		bytes = append(bytes, v.bytes.Load())
	}
	return frames, bytes
}

// close stops the video and closes every peer of the room.
func (room *mediaRoom) close() {
	close(room.stop)
	peers := []*peer.Peer{room.host}
	if room.sharer != nil {
		peers = append(peers, room.sharer)
	}
	for _, v := range room.viewers {
		peers = append(peers, v.p)
	}
	closePeers(peers)
	room.wg.Wait()
}
