package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/demo"
	"github.com/p2pstreams/p2pstreams/metrics"
)

// serveConfig is what `serve` runs with: every field is a setting (see
// config.go), a flag, an environment variable and a config-file key.
type serveConfig struct {
	ConfigFile  string
	PrintConfig bool

	Addr   string
	Secret string
	Redis  string

	RateLimit       float64
	RateBurst       int
	MaxPeers        int
	MaxMessageBytes int
	SendQueueBytes  int
	MaxConns        int
	MaxConnsPerIP   int
	TrustedProxies  []netip.Prefix
	JoinTimeout     time.Duration
	WriteTimeout    time.Duration
	StoreTimeout    time.Duration
	ProbeTimeout    time.Duration
	PingInterval    time.Duration
	Lease           time.Duration
	AllowedOrigins  []string

	LogLevel  string
	LogFormat string

	Metrics     bool
	MetricsAddr string

	AdminSecret string

	WebhookURL    string
	WebhookSecret string
	WebhookQueue  int

	TURN turnConfig // serve_turn.go
}

// defaultServeConfig is serve's configuration before any source: the
// server's own defaults, spelled out so that --print-config shows them.
func defaultServeConfig() serveConfig {
	return serveConfig{
		Addr: ":8080", RateLimit: 100, RateBurst: 1000, MaxPeers: 128, MaxMessageBytes: 64 << 10,
		SendQueueBytes: 1 << 20, JoinTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		StoreTimeout: 5 * time.Second, ProbeTimeout: 2 * time.Second, PingInterval: 10 * time.Second, LogLevel: "info", LogFormat: "text", Metrics: true, WebhookQueue: 1024,
		TURN: defaultTURNConfig(),
	}
}

// settings is serve's table of settings. A new setting is one line here
// and one field in serveConfig.
func (c *serveConfig) settings() []*setting {
	return append([]*setting{
		{name: "config", usage: "read settings from this file (lines of NAME VALUE; flags and the environment win over it)", value: stringValue{&c.ConfigFile}},
		{name: "addr", usage: "address to listen on", value: stringValue{&c.Addr}},
		{name: "secret", usage: "token secret, at least 16 bytes; empty means a random one per process", value: stringValue{&c.Secret}, redact: redactSecret},
		{name: "redis", usage: "redis:// URL: keep sessions and route messages in Redis, so that several nodes serve together; empty means in memory", value: stringValue{&c.Redis}, redact: redactURL},
		{name: "rate-limit", usage: "messages per second one connection may send on average; negative means no limit", value: floatValue{&c.RateLimit}},
		{name: "rate-burst", usage: "messages one connection may send at once", value: intValue{&c.RateBurst, 1}},
		{name: "max-peers", usage: "members of a session, host included", value: intValue{&c.MaxPeers, 1}},
		{name: "max-message-bytes", usage: "size of one signaling message", value: intValue{&c.MaxMessageBytes, 256}},
		{name: "max-conns", usage: "open WebSocket connections in all; more are refused (HTTP 503 too_many_connections); 0 means no bound", value: intValue{&c.MaxConns, 0}},
		{name: "max-conns-per-ip", usage: "open WebSocket connections from one client IP; 0 means no bound", value: intValue{&c.MaxConnsPerIP, 0}},
		{name: "trusted-proxies", usage: "comma-separated proxy addresses or CIDRs (10.0.0.0/8) whose X-Forwarded-For gives the client IP; empty means none", value: prefixesValue{&c.TrustedProxies}},
		{name: "send-queue-bytes", usage: "bytes waiting to be written to one connection before it is closed as a slow reader (at least twice max-message-bytes)", value: intValue{&c.SendQueueBytes, 1}},
		{name: "join-timeout", usage: "time a new connection has to join", value: durationValue{&c.JoinTimeout, time.Millisecond}},
		{name: "write-timeout", usage: "time a write to one connection may make no progress before it is closed as a slow reader", value: durationValue{&c.WriteTimeout, time.Millisecond}},
		{name: "store-timeout", usage: "time each store and broker call may take", value: durationValue{&c.StoreTimeout, time.Millisecond}},
		{name: "probe-timeout", usage: "time a host has to answer the server's probe (HostProbe) when a client suspects it, before its session is reset; also the least time between two probes of one host", value: durationValue{&c.ProbeTimeout, time.Millisecond}},
		{name: "ping-interval", usage: "keepalive: a connection silent this long is pinged, and closed as dead if it stays silent as long again; 0 means 10s, negative (-1s) turns it off", value: durationValue{&c.PingInterval, math.MinInt64}},
		{name: "lease", usage: "presence lease: a dead node's peers are released after it; 0 means 15s with --redis and none in memory", value: durationValue{&c.Lease, 0}},
		{name: "allowed-origins", usage: "comma-separated page origins that may open a WebSocket (https://example.com), or *; empty means the server's own origin", value: originsValue{listValue{&c.AllowedOrigins}}},
		{name: "log-level", usage: "debug, info, warn or error", value: choiceValue{&c.LogLevel, []string{"debug", "info", "warn", "error"}}},
		{name: "log-format", usage: "text or json", value: choiceValue{&c.LogFormat, []string{"text", "json"}}},
		{name: "metrics", usage: "serve Prometheus metrics at /metrics", value: boolValue{&c.Metrics}},
		{name: "admin-secret", usage: "bearer secret of the JSON admin API at /admin/api/ (list sessions, remove peers), at least 16 bytes; empty means no admin API", value: stringValue{&c.AdminSecret}, redact: redactSecret},
		{name: "webhook-url", usage: "POST every server event as signed JSON to this http(s) URL; empty means none", value: stringValue{&c.WebhookURL}, redact: redactURL},
		{name: "webhook-secret", usage: "the HMAC-SHA256 key of the webhook's " + SignatureHeader + " header, at least 16 bytes; required with --webhook-url", value: stringValue{&c.WebhookSecret}, redact: redactSecret},
		{name: "webhook-queue", usage: "events waiting for the webhook; more are dropped and counted", value: intValue{&c.WebhookQueue, 1}},
		{name: "metrics-addr", usage: "serve /metrics on this address instead of --addr (off the signaling listener)", value: stringValue{&c.MetricsAddr}},
	}, c.TURN.settings()...)
}

// options are the server options of c, without Store and Broker.
func (c *serveConfig) options(secret []byte, log *slog.Logger) *p2pstreams.Options {
	return &p2pstreams.Options{
		Secret: secret, Logger: log, AllowedOrigins: c.AllowedOrigins,
		MaxMessageBytes: c.MaxMessageBytes, MaxPeers: c.MaxPeers, SendQueueBytes: c.SendQueueBytes,
		RateLimit: c.RateLimit, RateBurst: c.RateBurst, JoinTimeout: c.JoinTimeout,
		WriteTimeout: c.WriteTimeout, StoreTimeout: c.StoreTimeout, Lease: c.Lease,
		ProbeTimeout: c.ProbeTimeout, PingInterval: c.PingInterval,
		MaxConns: c.MaxConns, MaxConnsPerIP: c.MaxConnsPerIP, TrustedProxies: c.TrustedProxies,
	}
}

// logger is the slog.Logger of c's log settings, writing to w.
func (c *serveConfig) logger(w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(c.LogLevel)) // checked by its setting
	ho := &slog.HandlerOptions{Level: level}
	if c.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// runServe runs the signaling server at /p2p/, the health probes at
// /healthz and /readyz, and the demo chat at /, until ctx ends; then it shuts the server down, telling the peers.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c := defaultServeConfig()
	set, err := loadConfig(&c, args, os.LookupEnv, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.PrintConfig {
		printConfig(stdout, set)
		return nil
	}
	log := c.logger(stderr)

	secret := []byte(c.Secret)
	if len(secret) == 0 {
		secret = p2pstreams.RandomSecret()
		log.Warn("no --secret or P2PSTREAMS_SECRET: using a random secret; tokens will not survive a restart")
	}
	opts := c.options(secret, log)
	ice, closeTURN, turnAllocations, err := startTURN(c.TURN, log)
	if err != nil {
		return err
	}
	defer closeTURN()
	opts.ICEServers = ice
	if c.Redis != "" {
		store, broker, closeRedis, err := redisBackends(c.Redis, c.Secret != "")
		if err != nil {
			return err
		}
		defer closeRedis()
		opts.Store, opts.Broker = store, broker
	}
	var extra []prometheus.Collector // serve's own metrics
	if turnAllocations != nil {
		extra = append(extra, turnGauge(turnAllocations))
	}
	if c.WebhookURL != "" {
		wh, err := startWebhook(c, log)
		if err != nil {
			return err
		}
		defer wh.stop()
		opts.OnEvent = wh.onEvent
		extra = append(extra, wh.collectors()...)
	}
	var m *metrics.Metrics
	var metricsHandler http.Handler
	var metricsAddr net.Addr // of --metrics-addr
	if c.Metrics {
		if m, metricsHandler, err = instrument(opts, extra...); err != nil {
			return err
		}
	}
	srv, err := p2pstreams.NewServer(opts)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/healthz", p2pstreams.HealthHandler())
	mux.Handle("/readyz", srv.ReadyHandler(0))
	if c.AdminSecret != "" {
		if len(c.AdminSecret) < 16 {
			srv.Shutdown(context.Background())
			return errors.New("serve: --admin-secret must be at least 16 bytes")
		}
		mux.Handle("/admin/", adminAPI(srv, c.AdminSecret))
	}
	mux.Handle("/", demo.New(srv, demo.Options{Mount: "/p2p/"}))
	if m != nil {
		m.Watch(srv)
		if c.MetricsAddr == "" {
			mux.Handle("/metrics", metricsHandler)
		} else {
			var stopMetrics func()
			metricsAddr, stopMetrics, err = listenMetrics(c.MetricsAddr, metricsHandler)
			if err != nil {
				srv.Shutdown(context.Background())
				return err
			}
			defer stopMetrics()
		}
	}

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "p2pstreams: demo chat at %s (signaling at /p2p/); Ctrl-C stops\n", openURL(ln.Addr()))
	if metricsAddr != nil {
		fmt.Fprintf(stdout, "p2pstreams: metrics at %smetrics\n", openURL(metricsAddr))
	}

	rctx, stopRelease := context.WithCancel(ctx)
	defer stopRelease()
	go releaseMemory(rctx)

	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	select {
	case err := <-done:
		srv.Shutdown(context.Background())
		return err
	case <-ctx.Done():
	}

	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// The signaling server first: it tells its peers and closes their
	// WebSockets, which http.Server.Shutdown does not track (hijacked).
	err = srv.Shutdown(sctx)
	if herr := hs.Shutdown(sctx); err == nil {
		err = herr
	}
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
		err = serr
	}
	return err
}

// openURL is the URL a person opens for the listener's address.
func openURL(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return "http://" + a.String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}
