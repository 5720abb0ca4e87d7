package metrics_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/metrics"
	"github.com/p2pstreams/p2pstreams/protocol"
)

var secret = []byte("metrics-test-secret-0123456789")

// scrape reads /metrics with Prometheus's text parser and returns each
// sample's value by name and labels ("name" or `name{code="x"}`; for a
// histogram, its _count).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.Metric {
			key := name
			if len(m.Label) > 0 {
				var ls []string
				for _, l := range m.Label {
					ls = append(ls, l.GetName()+`="`+l.GetValue()+`"`)
				}
				key += "{" + strings.Join(ls, ",") + "}"
			}
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key] = m.Counter.GetValue()
			case dto.MetricType_GAUGE:
				out[key] = m.Gauge.GetValue()
			case dto.MetricType_HISTOGRAM:
				out[key] = float64(m.Histogram.GetSampleCount())
			}
		}
	}
	return out
}

// mount serves srv at /p2p/ and reg at /metrics on a test server (closed,
// after srv's Shutdown, when the test ends), points tokenFor at srv, and
// returns the WebSocket and metrics URLs.
func mount(t *testing.T, srv *p2pstreams.Server, reg prometheus.Gatherer) (wsURL, metricsURL string) {
	tokenFor = func(p protocol.PeerID) (string, error) { return srv.Token("room", p, time.Minute, nil) }
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		hs.Close()
	})
	return "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/", hs.URL + "/metrics"
}

type peer struct {
	t  *testing.T
	nc net.Conn
}

func join(t *testing.T, url string, p protocol.PeerID) *peer {
	t.Helper()
	nc, _, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	pr := &peer{t, nc}
	srvTok, err := tokenFor(p)
	if err != nil {
		t.Fatal(err)
	}
	pr.send(protocol.Message{State: protocol.SessionJoin, Token: srvTok})
	if m := pr.read(); m.State != protocol.SessionReady {
		t.Fatalf("%s: %+v, want SessionReady", p, m)
	}
	return pr
}

var tokenFor func(protocol.PeerID) (string, error)

func (p *peer) send(m protocol.Message) {
	m.Type = protocol.Type
	b, _ := json.Marshal(m)
	if err := wsutil.WriteClientText(p.nc, b); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) read() protocol.Message {
	p.t.Helper()
	p.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := wsutil.ReadServerText(p.nc)
	if err != nil {
		p.t.Fatalf("read: %v", err)
	}
	var m protocol.Message
	json.Unmarshal(b, &m)
	return m
}

// Each metric moves when its event happens.
func TestEachMetricMoves(t *testing.T) {
	m := metrics.New()
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{
		Secret: secret, SendQueueBytes: 256 << 10, RateLimit: -1, WriteTimeout: time.Second, Lease: -1,
		Store: m.Store(p2pstreams.NewMemoryStore()), Broker: m.Broker(p2pstreams.NewMemoryBroker()),
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Watch(srv)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	wsURL, metricsURL := mount(t, srv, reg)

	before := scrape(t, metricsURL)
	// step waits (2 s at most) for every metric in want to move by its
	// figure: a counter may move just after the message it counts arrives.
	step := func(what string, want map[string]float64) {
		t.Helper()
		var after map[string]float64
		moved := func(k string, d float64) bool {
			got := after[k] - before[k]
			return (d > 0 && got >= d) || (d <= 0 && got == d)
		}
		for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			after = scrape(t, metricsURL)
			all := true
			for k, d := range want {
				all = all && moved(k, d)
			}
			if all || time.Now().After(deadline) {
				break
			}
		}
		for k, d := range want {
			if !moved(k, d) {
				t.Errorf("after %s: %s moved by %v, want %v", what, k, after[k]-before[k], d)
			}
		}
		before = after
	}

	alice := join(t, wsURL, "alice")
	step("the host joins", map[string]float64{
		"p2pstreams_connections": 1, "p2pstreams_connections_accepted_total": 1, "p2pstreams_peers": 1,
		"p2pstreams_sessions": 1, "p2pstreams_joins_total": 1, "p2pstreams_host_joins_total": 1,
		`p2pstreams_store_duration_seconds{op="join"}`: 1, `p2pstreams_broker_duration_seconds{op="subscribe"}`: 1,
	})
	bob := join(t, wsURL, "bob")
	alice.read() // SessionReady for bob
	step("a client joins", map[string]float64{
		"p2pstreams_peers": 1, "p2pstreams_sessions": 0, "p2pstreams_joins_total": 1, "p2pstreams_host_joins_total": 0,
		`p2pstreams_broker_duration_seconds{op="publish"}`: 1,
	})
	alice.send(protocol.Message{State: protocol.SdpOffer, To: "bob", Data: json.RawMessage(`{"sdp":"x"}`)})
	bob.read()
	step("an offer is routed", map[string]float64{
		"p2pstreams_routed_messages_total": 1, "p2pstreams_routed_bytes_total": 40,
	})
	alice.send(protocol.Message{State: protocol.SdpOffer, To: "nobody", Data: json.RawMessage(`{}`)})
	alice.read()
	step("an offer for nobody", map[string]float64{`p2pstreams_errors_total{code="peer_not_found"}`: 1})

	// A peer that never reads is closed as a slow reader.
	join(t, wsURL, "slow")
	alice.read()
	big := json.RawMessage(`{"sdp":"` + strings.Repeat("x", 60000) + `"}`)
	for i := 0; i < 2000 && srv.Stats().SlowClosed == 0; i++ {
		alice.send(protocol.Message{State: protocol.SdpOffer, To: "slow", Data: big})
		alice.send(protocol.Message{State: protocol.SdpOffer, To: "bob", Data: json.RawMessage(`{}`)})
		bob.read()
	}
	for srv.Stats().Peers != 2 { // a slow reader leaves its session at once
		time.Sleep(10 * time.Millisecond)
	}
	step("a slow reader", map[string]float64{
		"p2pstreams_slow_closes_total": 1, `p2pstreams_errors_total{code="slow_reader"}`: 1, "p2pstreams_peers": 0,
	})

	bob.send(protocol.Message{State: protocol.SessionLeave})
	for m := alice.read(); m.State != protocol.PeerLeft; m = alice.read() {
	}
	step("a client leaves", map[string]float64{`p2pstreams_store_duration_seconds{op="leave"}`: 1, "p2pstreams_peers": -1})
	alice.nc.Close()
	for srv.Stats().Connections != 1 { // bob's connection stays open, unjoined
		time.Sleep(10 * time.Millisecond)
	}
	step("the host goes", map[string]float64{"p2pstreams_sessions": -1, "p2pstreams_peers": -1})
}

// The Grafana dashboard asks only for metrics that exist.
func TestDashboardUsesOurNames(t *testing.T) {
	b, err := os.ReadFile("grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var d struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatal(err)
	}
	m := metrics.New()
	srv, _ := p2pstreams.NewServer(&p2pstreams.Options{Secret: secret})
	defer srv.Shutdown(context.Background())
	m.Watch(srv)
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	known := map[string]bool{"process_resident_memory_bytes": true, "go_goroutines": true}
	descs := make(chan *prometheus.Desc, 64)
	m.Describe(descs)
	close(descs)
	for d := range descs {
		name := strings.Split(d.String(), `"`)[1] // Desc{fqName: "NAME", ...}
		known[name], known[name+"_bucket"] = true, true
	}
	names := regexp.MustCompile(`p2pstreams_[a-z0-9_]+`)
	for _, p := range d.Panels {
		for _, tg := range p.Targets {
			for _, n := range names.FindAllString(tg.Expr, -1) {
				if strings.HasPrefix(n, "p2pstreams_") && !known[n] {
					t.Errorf("the dashboard asks for %s, which Metrics does not export", n)
				}
			}
		}
	}
}

// A flooding connection moves the rate-limit and flood counters.
func TestFloodMetricsMove(t *testing.T) {
	m := metrics.New()
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: secret, RateLimit: 1, RateBurst: 2})
	if err != nil {
		t.Fatal(err)
	}
	m.Watch(srv)
	reg, err := m.Registry()
	if err != nil {
		t.Fatal(err)
	}
	wsURL, metricsURL := mount(t, srv, reg)
	p := join(t, wsURL, "alice")
	for range 50 {
		if wsutil.WriteClientText(p.nc, []byte(`{"type":"Connection","state":"SessionLeave"}`)) != nil {
			break // closed for flooding
		}
	}
	for deadline := time.Now().Add(5 * time.Second); srv.Stats().FloodClosed == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	got := scrape(t, metricsURL)
	if got["p2pstreams_rate_limited_messages_total"] < 1 || got["p2pstreams_flood_closes_total"] != 1 {
		t.Errorf("rate_limited %v, flood closes %v; want >= 1 and 1", got["p2pstreams_rate_limited_messages_total"], got["p2pstreams_flood_closes_total"])
	}
}

// The timing wrapper keeps the store's batched lease renewal: serve always
// wraps its store, and once hid BatchRefresher, so that every lease was
// renewed by a Redis round trip of its own.
func TestTimedStoreRenewsInBatches(t *testing.T) {
	m := metrics.New()
	st := m.Store(p2pstreams.NewMemoryStore())
	if _, ok := st.(p2pstreams.BatchRefresher); !ok {
		t.Fatal("the timed MemoryStore is no BatchRefresher")
	}
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{
		Secret: secret, Lease: 300 * time.Millisecond, Store: st, Broker: p2pstreams.NewMemoryBroker(),
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	wsURL, metricsURL := mount(t, srv, reg)
	join(t, wsURL, "alice")
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := scrape(t, metricsURL)
		if got[`p2pstreams_store_duration_seconds{op="refresh"}`] != 0 {
			t.Fatalf("a lease was renewed alone: %v", got)
		}
		if got[`p2pstreams_store_duration_seconds{op="refresh_batch"}`] >= 2 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no batched renewal within 10 s: %v", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
