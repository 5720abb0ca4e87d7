package bench

import (
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/metrics"
)

// scrapeEverySecond gathers srv's metrics (with the Go and process
// collectors, as serve exposes them) every second, as a Prometheus scraping
// the server would, until the returned func is called.
func scrapeEverySecond(srv *p2pstreams.Server, m *metrics.Metrics) func() {
	m.Watch(srv)
	reg, err := m.Registry()
	if err != nil {
		return func() {}
	}
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				reg.Gather()
			}
		}
	}()
	return func() { close(stop) }
}
