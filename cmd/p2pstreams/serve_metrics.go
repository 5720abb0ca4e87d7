package main

import (
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/metrics"
)

// instrument times opts's Store and Broker and returns the metrics and
// their /metrics handler, with serve's own collectors (extra) beside them.
// Watch the server once it is made.
func instrument(opts *p2pstreams.Options, extra ...prometheus.Collector) (*metrics.Metrics, http.Handler, error) {
	m := metrics.Instrument(opts)
	reg, err := m.Registry()
	if err != nil {
		return nil, nil, err
	}
	for _, c := range extra {
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

// turnGauge is p2pstreams_turn_allocations, read from the embedded TURN server.
func turnGauge(allocations func() int) prometheus.Collector {
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "p2pstreams_turn_allocations", Help: "TURN allocations on the embedded TURN server now.",
	}, func() float64 { return float64(allocations()) })
}
