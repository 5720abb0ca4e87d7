// Package metrics exports a p2pstreams.Server to Prometheus. The server
// keeps its counters itself (atomic, read by Server.Stats); this package
// reads them when Prometheus scrapes, so the signaling path pays nothing for
// a scrape. Store and Broker calls are timed by wrapping them:
//
//	m := metrics.New()
//	srv, err := p2pstreams.NewServer(&p2pstreams.Options{
//		Secret: secret, Store: m.Store(store), Broker: m.Broker(broker),
//	})
//	m.Watch(srv)
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(m)
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// Every name starts with p2pstreams_; see README.md for the list.
package metrics

import (
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/p2pstreams/p2pstreams"
)

// Metrics is a prometheus.Collector for one Server and the latency of its
// Store and Broker. It is safe for concurrent use.
type Metrics struct {
	srv     atomic.Pointer[p2pstreams.Server]
	store   *prometheus.HistogramVec
	broker  *prometheus.HistogramVec
	sources []func() []prometheus.Metric
}

// latencyBuckets span a memory store's microseconds to a slow Redis's
// second (seconds).
var latencyBuckets = []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1}

// New returns Metrics watching no server yet (see Watch).
func New() *Metrics {
	return &Metrics{
		store: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "p2pstreams_store_duration_seconds", Help: "Time each session store call took, by operation.",
			Buckets: latencyBuckets,
		}, []string{"op"}),
		broker: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "p2pstreams_broker_duration_seconds", Help: "Time each message broker call took, by operation.",
			Buckets: latencyBuckets,
		}, []string{"op"}),
	}
}

// Watch makes srv the server whose counters m exports.
func (m *Metrics) Watch(srv *p2pstreams.Server) { m.srv.Store(srv) }

// The server's counters and gauges, read from Server.Stats at each scrape.
var (
	descConnections = prometheus.NewDesc("p2pstreams_connections", "Open signaling WebSocket connections.", nil, nil)
	descAccepted    = prometheus.NewDesc("p2pstreams_connections_accepted_total", "Signaling WebSocket connections accepted.", nil, nil)
	descPeers       = prometheus.NewDesc("p2pstreams_peers", "Connections joined to a session now.", nil, nil)
	descSessions    = prometheus.NewDesc("p2pstreams_sessions", "Sessions whose host is connected to this server now (summed over the nodes: every live session).", nil, nil)
	descJoins       = prometheus.NewDesc("p2pstreams_joins_total", "Successful session joins.", nil, nil)
	descHostJoins   = prometheus.NewDesc("p2pstreams_host_joins_total", "Joins that made the joining peer its session's host.", nil, nil)
	descRouted      = prometheus.NewDesc("p2pstreams_routed_messages_total", "Signaling messages (offers, answers, candidates) routed to their peer.", nil, nil)
	descRoutedBytes = prometheus.NewDesc("p2pstreams_routed_bytes_total", "Bytes of the signaling messages routed, as sent on.", nil, nil)
	descErrors      = prometheus.NewDesc("p2pstreams_errors_total", "Refused inputs and closes, by protocol error code.", []string{"code"}, nil)
	descSlowCloses  = prometheus.NewDesc("p2pstreams_slow_closes_total", "Connections closed because their send queue overflowed (slow readers).", nil, nil)
	descFloodCloses = prometheus.NewDesc("p2pstreams_flood_closes_total", "Connections closed for flooding (sending over the rate limit past the burst).", nil, nil)
	descRateLimited = prometheus.NewDesc("p2pstreams_rate_limited_messages_total", "Messages dropped over the per-connection rate limit.", nil, nil)
	descDeadCloses  = prometheus.NewDesc("p2pstreams_dead_closes_total", "Connections closed by the keepalive (no pong in time).", nil, nil)
	descHostResets  = prometheus.NewDesc("p2pstreams_host_resets_total", "Sessions reset because their host was unreachable.", nil, nil)
	descHostChecks  = prometheus.NewDesc("p2pstreams_host_checks_total", "HostCheck questions from suspecting clients, answered.", nil, nil)
	descEventsDrop  = prometheus.NewDesc("p2pstreams_events_dropped_total", "Server events dropped because the OnEvent queue was full.", nil, nil)
)

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descConnections, descAccepted, descPeers, descSessions, descJoins,
		descHostJoins, descRouted, descRoutedBytes, descErrors, descSlowCloses, descEventsDrop,
		descFloodCloses, descRateLimited, descDeadCloses, descHostResets, descHostChecks} {
		ch <- d
	}
	m.store.Describe(ch)
	m.broker.Describe(ch)
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	if srv := m.srv.Load(); srv != nil {
		st := srv.Stats()
		gauge := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v))
		}
		counter := func(d *prometheus.Desc, v int64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
		}
		gauge(descConnections, st.Connections)
		counter(descAccepted, st.Accepted)
		gauge(descPeers, st.Peers)
		gauge(descSessions, st.Sessions)
		counter(descJoins, st.Joins)
		counter(descHostJoins, st.Hosts)
		counter(descRouted, st.Relayed)
		counter(descRoutedBytes, st.RelayedBytes)
		counter(descSlowCloses, st.SlowClosed)
		counter(descEventsDrop, st.EventsDropped)
		counter(descFloodCloses, st.FloodClosed)
		counter(descRateLimited, st.RateLimited)
		counter(descDeadCloses, st.DeadClosed)
		counter(descHostResets, st.HostResets)
		counter(descHostChecks, st.HostChecks)
		for code, n := range st.Errors {
			ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(n), code)
		}
	}
	m.store.Collect(ch)
	m.broker.Collect(ch)
}

// Registry returns a new Prometheus registry holding m and the Go runtime's
// and the process's collectors (go_*, process_*): what serve exposes.
func (m *Metrics) Registry() (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return reg, nil
}
