package p2predis

import "context"

// Ping implements p2pstreams.Pinger: Redis answers a command.
func (st *Store) Ping(ctx context.Context) error {
	return st.rdb.ScriptExists(ctx, joinScript.Hash()).Err()
}

// Ping implements p2pstreams.Pinger: Redis answers a command. (The pub/sub
// connection is health-checked by go-redis itself, every second.)
func (b *Broker) Ping(ctx context.Context) error {
	return b.rdb.Ping(ctx).Err()
}
