package bench

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/metrics"
	"github.com/p2pstreams/p2pstreams/p2predis"
)

// newOurs returns the p2pstreams server as the benchmark runs it: default
// options except those a load test must lift (the per-connection rate limit,
// which would refuse a relay benchmark's traffic by design, and the send
// queue, sized for the relay window when it holds more than the default)
// and the session size, for storms.
//
// With o.Redis, the node keeps sessions in that Redis and delivers through
// its pub/sub, as the nodes of a deployment do.
func newOurs(secret []byte, o serverOptions) (http.Handler, func(context.Context) error, error) {
	opts := &p2pstreams.Options{
		Secret:         secret,
		Logger:         slog.New(slog.DiscardHandler),
		RateLimit:      -1,
		SendQueueBytes: o.SendQueueBytes,
		MaxPeers:       o.MaxPeers,
	}
	var rdb *redis.Client
	var broker *p2predis.Broker
	if o.Redis != "" {
		rdb = redis.NewClient(&redis.Options{Addr: o.Redis})
		ro := &p2predis.Options{Prefix: o.RedisPrefix}
		broker = p2predis.NewBroker(rdb, ro)
		opts.Store, opts.Broker = p2predis.NewStore(rdb, ro), broker
	}
	var m *metrics.Metrics
	if o.Metrics {
		m = metrics.Instrument(opts)
	}
	srv, err := p2pstreams.NewServer(opts)
	if err != nil {
		if rdb != nil {
			broker.Close()
			rdb.Close()
		}
		return nil, nil, err
	}
	stopScrapes := func() {}
	if m != nil {
		stopScrapes = scrapeEverySecond(srv, m)
	}
	shutdown := func(ctx context.Context) error {
		stopScrapes()
		err := srv.Shutdown(ctx)
		if rdb != nil {
			err = errors.Join(err, broker.Close(), rdb.Close())
		}
		return err
	}
	return srv, shutdown, nil
}

// serverOptions are the server settings a scenario needs; zero means the
// server's default.
type serverOptions struct {
	SendQueueBytes int // 0: the server's default
	MaxPeers       int
	Redis          string // host:port of a Redis for store and broker; "" = memory
	RedisPrefix    string // key prefix, shared by the nodes of one run
	Metrics        bool   // Prometheus metrics on, as serve ships them
}

// relayQueueBytes is the send queue a relay of cfg needs: four windows of
// its messages (with their framing and the routed envelope), or the
// server's default when that is enough.
func relayQueueBytes(cfg Config) int {
	if q := 4 * cfg.Window * (cfg.Size + 256); q > 1<<20 {
		return q
	}
	return 0
}
