package main

import (
	"errors"
	"fmt"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/p2predis"
	"github.com/redis/go-redis/v9"
)

// redisBackends returns the Store and Broker of `serve --redis URL` (a
// redis:// or rediss:// URL, as go-redis parses it) and a func that closes
// them after the server has shut down.
func redisBackends(url string, secretGiven bool) (p2pstreams.Store, p2pstreams.Broker, func(), error) {
	if !secretGiven {
		// Every node must verify the tokens that the others issue.
		return nil, nil, nil, errors.New("serve: --redis needs --secret (or P2PSTREAMS_SECRET), the same on every node")
	}
	opt, err := redis.ParseURL(url)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("serve: --redis: %w", err)
	}
	rdb := redis.NewClient(opt)
	broker := p2predis.NewBroker(rdb, nil)
	return p2predis.NewStore(rdb, nil), broker, func() {
		broker.Close()
		rdb.Close()
	}, nil
}
