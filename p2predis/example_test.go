package p2predis_test

import (
	"context"
	"net/http"
	"os"

	"github.com/redis/go-redis/v9"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/p2predis"
)

// A server node that shares its sessions with every other node on the same
// Redis. Run several behind a load balancer, all with the same secret.
func Example() {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rdb.Close()
	broker := p2predis.NewBroker(rdb, nil)
	defer broker.Close() // after the server's Shutdown: deferred calls run last first

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
