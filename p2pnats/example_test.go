package p2pnats_test

import (
	"context"
	"net/http"
	"os"

	"github.com/nats-io/nats.go"
	"github.com/redis/go-redis/v9"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/p2pnats"
	"github.com/p2pstreams/p2pstreams/p2predis"
)

// A server node whose messages go over NATS and whose sessions are in Redis.
func Example() {
	nc, err := nats.Connect(nats.DefaultURL, nats.MaxReconnects(-1))
	if err != nil {
		return
	}
	defer nc.Close()
	broker, err := p2pnats.NewBroker(nc, nil)
	if err != nil {
		return
	}
	defer broker.Close()
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()

	srv, err := p2pstreams.NewServer(&p2pstreams.Options{
		Secret: []byte(os.Getenv("P2PSTREAMS_SECRET")),
		Store:  p2predis.NewStore(rdb, nil),
		Broker: broker,
	})
	if err != nil {
		return
	}
	defer srv.Shutdown(context.Background())
	http.Handle("/p2p/", srv)
}
