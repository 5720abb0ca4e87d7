package peer

import "time"

// Mute makes p stop (or resume) sending heartbeats, as a peer whose
// process froze: its DataChannel stays open but says nothing.
func Mute(p *Peer, on bool) { p.mute.Store(on) }

// Freeze stops p's loop for d, as a process that froze (a tab whose page
// is blocked): no heartbeat, no answer, no signaling handled meanwhile;
// what arrives waits in its inbox.
func Freeze(p *Peer, d time.Duration) { p.inbox.push(event{kind: evFreeze, pause: d}) }

// CanBecome exposes the transition table to the external tests.
func CanBecome(from, to State) bool { return from.canBecome(to) }

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
