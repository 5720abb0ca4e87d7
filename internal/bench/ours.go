package bench

import (
	"context"
	"log/slog"
	"net/http"

	"github.com/p2pstreams/p2pstreams"
)

// newOurs returns the p2pstreams server as the benchmark runs it: default
// options except those a load test must lift (the per-connection rate limit,
// which would refuse a relay benchmark's traffic by design, and the send
// queue, sized for the relay window) and the session size, for storms.
func newOurs(secret []byte, o serverOptions) (http.Handler, func(context.Context) error, error) {
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{
		Secret:    secret,
		Logger:    slog.New(slog.DiscardHandler),
		RateLimit: -1,
		SendQueue: o.SendQueue,
		MaxPeers:  o.MaxPeers,
	})
	if err != nil {
		return nil, nil, err
	}
	return srv, srv.Shutdown, nil
}

// serverOptions are the server settings a scenario needs; zero means the
// server's default.
type serverOptions struct {
	SendQueue int
	MaxPeers  int
}
