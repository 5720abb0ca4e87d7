package metrics

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/p2pstreams/p2pstreams"
)

// Store returns st with each call timed in p2pstreams_store_duration_seconds.
// It keeps st's Ping (p2pstreams.Pinger), so readiness probes still reach it,
// and unwraps to st, so the server still finds st's optional interfaces.
// A store that renews leases in batches (p2pstreams.BatchRefresher) keeps
// that too, each batch timed as op "refresh_batch".
func (m *Metrics) Store(st p2pstreams.Store) p2pstreams.Store {
	ts := &timedStore{st,
		m.store.WithLabelValues("join"), m.store.WithLabelValues("refresh"), m.store.WithLabelValues("leave"),
		m.store.WithLabelValues("successor")}
	if br, ok := st.(p2pstreams.BatchRefresher); ok {
		return &timedBatchStore{ts, br, m.store.WithLabelValues("refresh_batch")}
	}
	return ts
}

// Broker returns b with each call timed in p2pstreams_broker_duration_seconds.
// It keeps b's Ping.
func (m *Metrics) Broker(b p2pstreams.Broker) p2pstreams.Broker {
	return &timedBroker{b, m.broker.WithLabelValues("subscribe"), m.broker.WithLabelValues("publish")}
}

// The observers are looked up once: a call costs two clock reads and one
// atomic histogram update, no lock and no allocation.
type timedStore struct {
	st                              p2pstreams.Store
	join, refresh, leave, successor prometheus.Observer
}

func since(o prometheus.Observer, t time.Time) { o.Observe(time.Since(t).Seconds()) }

func (s *timedStore) Join(ctx context.Context, id p2pstreams.SessionID, p p2pstreams.PeerID, o p2pstreams.JoinOptions) (p2pstreams.PeerID, error) {
	defer since(s.join, time.Now())
	return s.st.Join(ctx, id, p, o)
}

func (s *timedStore) Refresh(ctx context.Context, id p2pstreams.SessionID, p p2pstreams.PeerID, lease time.Duration) error {
	defer since(s.refresh, time.Now())
	return s.st.Refresh(ctx, id, p, lease)
}

func (s *timedStore) Leave(ctx context.Context, id p2pstreams.SessionID, p p2pstreams.PeerID, forget bool) (p2pstreams.Departure, error) {
	defer since(s.leave, time.Now())
	return s.st.Leave(ctx, id, p, forget)
}

func (s *timedStore) SetSuccessor(ctx context.Context, id p2pstreams.SessionID, host, successor p2pstreams.PeerID, window time.Duration) error {
	defer since(s.successor, time.Now())
	return s.st.SetSuccessor(ctx, id, host, successor, window)
}

func (s *timedStore) Ping(ctx context.Context) error { return ping(ctx, s.st) }

// Unwrap returns the timed store, whose optional interfaces (Directory,
// Refusals, HostChanges: the admin calls and host_changed across nodes)
// the server uses untimed.
func (s *timedStore) Unwrap() p2pstreams.Store { return s.st }

// timedBatchStore is a timedStore whose store renews leases in batches.
type timedBatchStore struct {
	*timedStore
	br    p2pstreams.BatchRefresher
	batch prometheus.Observer
}

func (s *timedBatchStore) RefreshBatch(ctx context.Context, members []p2pstreams.Member, lease time.Duration) []error {
	defer since(s.batch, time.Now())
	return s.br.RefreshBatch(ctx, members, lease)
}

type timedBroker struct {
	b                  p2pstreams.Broker
	subscribe, publish prometheus.Observer
}

func (b *timedBroker) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	defer since(b.subscribe, time.Now())
	return b.b.Subscribe(ctx, topic, deliver)
}

func (b *timedBroker) Publish(ctx context.Context, topic string, msg []byte) (int, error) {
	defer since(b.publish, time.Now())
	return b.b.Publish(ctx, topic, msg)
}

func (b *timedBroker) Ping(ctx context.Context) error { return ping(ctx, b.b) }

func ping(ctx context.Context, v any) error {
	if p, ok := v.(p2pstreams.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// Instrument sets o's Store and Broker (the memory ones, as NewServer
// would make, when nil) to timed wrappers of them, and returns the Metrics
// that time them; Watch the server made with o.
func Instrument(o *p2pstreams.Options) *Metrics {
	if o.Store == nil {
		o.Store = p2pstreams.NewMemoryStore()
		if o.Lease == 0 {
			o.Lease = -1 // no leases, as NewServer does for its own memory store
		}
	}
	if o.Broker == nil {
		o.Broker = p2pstreams.NewMemoryBroker()
	}
	m := New()
	o.Store, o.Broker = m.Store(o.Store), m.Broker(o.Broker)
	return m
}
