package bench

import (
	"context"
	"fmt"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// stormFigures are the storm scenario's results for one server.
type stormFigures struct {
	Clients     int            `json:"clients"`
	Joined      int            `json:"joined"`
	Failed      int            `json:"failed"`
	Failures    map[string]int `json:"failures,omitempty"`
	JoinsPerSec float64        `json:"joins_per_sec"`
	Connect     Latency        `json:"connect"`      // TCP + WebSocket handshake
	Join        Latency        `json:"join"`         // SessionJoin to SessionReady
	ConnectJoin Latency        `json:"connect_join"` // both
	Seconds     float64        `json:"seconds"`
}

// runStorm has N clients connect and join at once (Concurrency at a time,
// or Rate per second), Group peers per session: the first of each group to
// arrive becomes its host, and the host is told about each later one.
func runStorm(ctx context.Context, r *runner, t target) (any, error) {
	d, err := newDialer(t.url(), r.cfg.Sources)
	if err != nil {
		return nil, err
	}
	g := r.cfg.Group
	r.measuring(ctx, t, 5)
	o, err := openAll(ctx, r, d, r.cfg.N, r.cfg.Concurrency, r.cfg.Rate, func(i int) (protocol.SessionID, protocol.PeerID) {
		return protocol.SessionID(fmt.Sprintf("storm-%d", i/g)), protocol.PeerID(fmt.Sprintf("p%d", i%g))
	})
	if err != nil {
		return nil, err
	}
	defer o.closeAll()
	f := &stormFigures{
		Clients: r.cfg.N, Joined: len(o.total), Failed: o.failed, Failures: topFailures(o.failures),
		Connect: summarize(o.connect), Join: summarize(o.join), ConnectJoin: summarize(o.total),
		Seconds: round(o.elapsed.Seconds()),
	}
	if s := o.elapsed.Seconds(); s > 0 {
		f.JoinsPerSec = round(float64(f.Joined) / s)
	}
	if err := r.peak(ctx, t); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	return f, nil
}
