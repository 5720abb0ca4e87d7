package peer

import (
	"context"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// The host's own sends are paced by its fastest client (PROTOCOL.md, "Host
// behaviour"): Send on the host waits while its messages not yet relayed
// plus the queue of its least-queued open client pass
// protocol.SendHighWater. A burst thus never puts a client that keeps up
// past the relay's bound; a client slower than the fastest still falls
// behind and is dropped there, as for clients' messages, so one slow
// client never holds the host back.

// publishFanout makes the host's open links, as the loop sees them, the
// ones Send paces by (loop only; after any change of p.host.links or l.open).
func (p *Peer) publishFanout() {
	var open []*link
	for _, l := range p.host.links {
		if l.open {
			open = append(open, l)
		}
	}
	p.fanout.Store(&open)
}

// fastest returns the open, unhealing client link with the least queued in
// its DataChannel, and that amount; nil when there is none.
func (p *Peer) fastest() (*link, uint64) {
	var best *link
	var least uint64
	if ls := p.fanout.Load(); ls != nil {
		for _, l := range *ls {
			l.hmu.Lock()
			healing := l.healing
			l.hmu.Unlock()
			if healing {
				continue
			}
			if q := l.dc.BufferedAmount(); best == nil || q < least {
				best, least = l, q
			}
		}
	}
	return best, least
}

// pacePoll bounds a wait for room: the fastest client may change (one
// opens, one goes) without the waiter hearing of it.
const pacePoll = 20 * time.Millisecond

// hostRoom waits until the host may hand one more message to its loop, or
// ctx ends (its error), or the Peer closes (ErrClosed).
func (p *Peer) hostRoom(ctx context.Context) error {
	for {
		l, queued := p.fastest()
		if uint64(max(p.hostPending.Load(), 0))+queued <= protocol.SendHighWater {
			return nil
		}
		var low <-chan struct{}
		if l != nil {
			low = l.low
		}
		t := time.NewTimer(pacePoll)
		select {
		case <-low:
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-p.ctx.Done():
			t.Stop()
			return ErrClosed
		}
		t.Stop()
	}
}
