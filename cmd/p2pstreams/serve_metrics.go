package main

import (
	"fmt"
	"net"
	"time"

	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/metrics"
)

// instrument wraps opts's Store and Broker (the memory ones when nil) to
// time their calls, and returns the metrics and their /metrics handler
// (with the Go runtime's and the process's metrics beside them). Watch the
// server once it is made.
func instrument(opts *p2pstreams.Options) (*metrics.Metrics, http.Handler, error) {
	if opts.Store == nil {
		opts.Store = p2pstreams.NewMemoryStore()
		if opts.Lease == 0 {
			opts.Lease = -1 // as the server does for its own memory store
		}
	}
	if opts.Broker == nil {
		opts.Broker = p2pstreams.NewMemoryBroker()
	}
	m := metrics.New()
	opts.Store, opts.Broker = m.Store(opts.Store), m.Broker(opts.Broker)
	reg := prometheus.NewRegistry()
	for _, c := range []prometheus.Collector{m, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			return nil, nil, err
		}
	}
	return m, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), nil
}

// listenMetrics serves h at /metrics on its own listener at addr, off the
// signaling listener; the returned func stops it.
func listenMetrics(addr string, h http.Handler) (net.Addr, func(), error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, fmt.Errorf("serve: --metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", h)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go hs.Serve(ln)
	return ln.Addr(), func() { hs.Close() }, nil
}
