package p2pnats

import "context"

// Ping implements p2pstreams.Pinger: the NATS server answers a round trip.
func (b *Broker) Ping(ctx context.Context) error {
	return b.nc.FlushWithContext(ctx)
}
