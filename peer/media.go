package peer

import (
	"errors"
	"slices"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Media. The host sends tracks to every client: each track is added to
// every live link, and to every link that opens later, and negotiated
// over the link's DataChannel (negotiate.go), never by rebuilding the
// connection. A client gets the tracks its host sends through OnTrack.
// (Clients sending tracks, relayed by the host, are not done yet.)

// ErrNotHost: a host-only call (AddTrack) on a client.
var ErrNotHost = errors.New("peer: only the host can do this")

// Track is a track a peer receives.
type Track struct {
	From     protocol.PeerID // who sends it (the host)
	Remote   *webrtc.TrackRemote
	Receiver *webrtc.RTPReceiver
}

// AddTrack sends track (any webrtc.TrackLocal: TrackLocalStaticSample for
// generated or file media, TrackLocalStaticRTP to relay a received one) to
// every client of this host, and to every client that connects later.
// Write to the track as pion says; every client gets what is written from
// the moment its link has negotiated it. It returns ErrNotHost on a client.
func (p *Peer) AddTrack(track webrtc.TrackLocal) error {
	return p.onLoop(func() error {
		if !p.isHostNow() {
			return ErrNotHost
		}
		if slices.Contains(p.tracks, track) {
			return nil
		}
		p.tracks = append(p.tracks, track)
		for _, l := range p.links {
			if l.open {
				p.sendTrack(l, track)
			}
		}
		return nil
	})
}

// RemoveTrack stops sending track to every client (each sees its
// receiver's track end). A track this peer does not send is a no-op.
func (p *Peer) RemoveTrack(track webrtc.TrackLocal) error {
	return p.onLoop(func() error {
		i := slices.Index(p.tracks, track)
		if i < 0 {
			return nil
		}
		p.tracks = slices.Delete(p.tracks, i, i+1)
		for _, l := range p.links {
			for _, s := range l.pc.GetSenders() {
				if s.Track() == track {
					if err := l.pc.RemoveTrack(s); err != nil {
						p.log.Debug("p2pstreams: remove track", "peer", l.remote, "err", err)
					}
				}
			}
		}
		return nil
	})
}

// sendTracks adds every track the host sends to a link that just opened.
func (p *Peer) sendTracks(l *link) {
	for _, t := range p.tracks {
		p.sendTrack(l, t)
	}
}

func (p *Peer) sendTrack(l *link, t webrtc.TrackLocal) {
	s, err := l.pc.AddTrack(t)
	if err != nil {
		p.log.Warn("p2pstreams: add track", "peer", l.remote, "err", err)
		return
	}
	p.wg.Add(1)
	go func() { // read RTCP, so that pion's interceptors (NACK, reports) run
		defer p.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := s.Read(buf); err != nil {
				return
			}
		}
	}()
}

// onLoop runs f on the loop and returns its error (ErrClosed once the
// Peer has stopped).
func (p *Peer) onLoop(f func() error) error {
	errc := make(chan error, 1)
	if !p.inbox.push(event{kind: evCall, fn: func() { errc <- f() }}) {
		return ErrClosed
	}
	select {
	case err := <-errc:
		return err
	case <-p.done:
		return ErrClosed
	}
}

func (p *Peer) emitTrack(from protocol.PeerID, tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if p.events != nil && p.cfg.OnTrack != nil {
		p.events.push(callback{kind: cbTrack, track: &Track{From: from, Remote: tr, Receiver: recv}})
	}
}
