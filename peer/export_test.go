package peer

import (
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Mute makes p stop (or resume) sending heartbeats, as a peer whose
// process froze: its DataChannel stays open but says nothing.
func Mute(p *Peer, on bool) { p.mute.Store(on) }

// Freeze stops p's loop for d, as a process that froze (a tab whose page
// is blocked): no heartbeat, no answer, no signaling handled meanwhile;
// what arrives waits in its inbox.
func Freeze(p *Peer, d time.Duration) { p.inbox.push(event{kind: evFreeze, pause: d}) }

// CanBecome exposes the transition table to the external tests.
func CanBecome(from, to State) bool { return from.canBecome(to) }

// Heals and Glares count the links p healed and the renegotiation offers
// that crossed at p.
func Heals(p *Peer) int64  { return p.heals.Load() }
func Glares(p *Peer) int64 { return p.glares.Load() }

// onLink runs f on p's loop with p's link to remote (nil if none).
func onLink(p *Peer, remote protocol.PeerID, f func(l *link) error) error {
	done := make(chan error, 1)
	if !p.inbox.push(event{kind: evCall, fn: func() {
		l := p.host.links[remote]
		if l == nil && p.client.toHost != nil && p.client.toHost.remote == remote {
			l = p.client.toHost
		}
		if l == nil || !l.open {
			done <- fmt.Errorf("no open link to %s", remote)
			return
		}
		done <- f(l)
	}}) {
		return ErrClosed
	}
	return <-done
}

// AddLinkTrack adds a track (mime: webrtc.MimeTypeVP8, MimeTypeOpus...) to
// p's link to remote, which then needs renegotiating.
func AddLinkTrack(p *Peer, remote protocol.PeerID, mime string) error {
	return onLink(p, remote, func(l *link) error {
		tr, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: mime}, mime, string(p.id))
		if err != nil {
			return err
		}
		_, err = l.pc.AddTrack(tr)
		return err
	})
}

// Negotiated returns the number of transceivers of p's link to remote
// and whether its signaling state is stable.
func Negotiated(p *Peer, remote protocol.PeerID) (n int, stable bool, err error) {
	err = onLink(p, remote, func(l *link) error {
		n = len(l.pc.GetTransceivers())
		stable = l.pc.SignalingState() == webrtc.SignalingStateStable
		return nil
	})
	return n, stable, err
}

// Healing reports whether p's link to remote is healing.
func Healing(p *Peer, remote protocol.PeerID) bool {
	var h bool
	return onLink(p, remote, func(l *link) error { h = l.healing; return nil }) == nil && h
}

// SetForgetAfter shortens how long a host keeps a gone client; it returns
// the function that restores it.
func SetForgetAfter(d time.Duration) (restore func()) {
	old := forgetAfter
	forgetAfter = d
	return func() { forgetAfter = old }
}

// ReadSlowly makes p take d for every DataChannel message it reads, as a
// peer on a slow device or link: its channel's queue backs up at the sender.
func ReadSlowly(p *Peer, d time.Duration) { p.slowRead.Store(int64(d)) }
