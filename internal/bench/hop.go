package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
)

// hopFigures are the hop scenario's results: the same relay pairs through
// one node with the memory store and broker, and split across two nodes
// that share a Redis (host on node A, client on node B), so that every
// message crosses Redis pub/sub.
type hopFigures struct {
	Pairs    int                   `json:"pairs"`
	Size     int                   `json:"size"`
	OneNode  map[string]relayPhase `json:"one_node_memory"`
	TwoNodes map[string]relayPhase `json:"two_nodes_redis"`
	// ExtraP50 and ExtraP99 are what the Redis hop adds to the paced
	// one-way latency: two nodes minus one node.
	ExtraP50 float64 `json:"extra_p50_ms"`
	ExtraP99 float64 `json:"extra_p99_ms"`
}

// runHop is the hop scenario. It spawns its own servers (always child
// processes) and, without Config.Redis, its own redis-server.
func runHop(ctx context.Context, r *runner) (*hopFigures, error) {
	if len(r.cfg.Command) == 0 {
		return nil, errors.New("bench: hop spawns its servers and needs Config.Command")
	}
	addr := r.cfg.Redis
	if addr == "" {
		rp, err := startRedis(ctx)
		if err != nil {
			return nil, err
		}
		defer rp.stop()
		addr = rp.addr
	}
	b := make([]byte, 6)
	rand.Read(b)
	o := serverOptions{SendQueueBytes: relayQueueBytes(r.cfg), MaxPeers: 2}
	f := &hopFigures{Pairs: r.cfg.Pairs, Size: r.cfg.Size}

	one, err := spawn(ctx, r.cfg.Command, kindServer, r.secret, o, r.cfg.ServerProcs, false)
	if err != nil {
		return nil, err
	}
	f.OneNode, err = hopRelay(ctx, r, one, one.url())
	one.close(context.Background())
	if err != nil {
		return nil, fmt.Errorf("one node: %w", err)
	}

	o.Redis, o.RedisPrefix = addr, "bench-"+hex.EncodeToString(b)+":"
	a, err := spawn(ctx, r.cfg.Command, kindServer, r.secret, o, r.cfg.ServerProcs, false)
	if err != nil {
		return nil, err
	}
	defer a.close(context.Background())
	bn, err := spawn(ctx, r.cfg.Command, kindServer, r.secret, o, r.cfg.ServerProcs, false)
	if err != nil {
		return nil, err
	}
	defer bn.close(context.Background())
	f.TwoNodes, err = hopRelay(ctx, r, a, a.url(), bn.url())
	if err != nil {
		return nil, fmt.Errorf("two nodes: %w", err)
	}
	f.ExtraP50 = round(f.TwoNodes["paced"].Latency.P50 - f.OneNode["paced"].Latency.P50)
	f.ExtraP99 = round(f.TwoNodes["paced"].Latency.P99 - f.OneNode["paced"].Latency.P99)
	return f, nil
}

// hopRelay runs relay's two phases over pairs whose host dials urls[0] and
// whose client dials the last of urls.
func hopRelay(ctx context.Context, r *runner, t target, urls ...string) (map[string]relayPhase, error) {
	d, err := newDialer(urls[0], r.cfg.Sources, urls[1:]...)
	if err != nil {
		return nil, err
	}
	lanes, closeAll, err := relaySetup(ctx, r, d)
	if err != nil {
		return nil, err
	}
	defer closeAll()
	limit := r.cfg.Timeout / 5
	out := map[string]relayPhase{}
	p, err := relayPhaseRun(ctx, t, lanes, 1, r.cfg.Messages, 0, limit)
	if err != nil {
		return nil, err
	}
	out["max"] = p
	rate := r.cfg.Rate
	if rate <= 0 {
		rate = 2000
	}
	n := min(r.cfg.Messages, int(rate*5)+len(lanes))
	if p, err = relayPhaseRun(ctx, t, lanes, 2, n, rate, limit); err != nil {
		return nil, err
	}
	out["paced"] = p
	return out, nil
}
