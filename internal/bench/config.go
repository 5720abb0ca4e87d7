package bench

import (
	"fmt"
	"slices"
	"time"
)

// Where the server under test runs (Config.Target).
const (
	TargetSpawn     = "spawn"     // a child process per server: clean memory figures (default)
	TargetInProcess = "inprocess" // in this process: memory figures include the load generator
)

// Config is one bench run. Zero values mean the defaults in each comment.
type Config struct {
	// Scenario is idle, relay, storm, webrtc, hop or media.
	Scenario string
	// Target is TargetSpawn (default), TargetInProcess, or a ws:// URL of
	// a running server on loopback (then Secret is its token secret, and
	// PID, if set, lets idle read its RSS).
	Target string
	Secret []byte
	PID    int
	// Command spawns a server (TargetSpawn, and the floor beside a URL):
	// the argv prefix of a program whose arguments ChildFlag... run
	// ChildMain, e.g. {os.Executable(), "bench"}.
	Command []string
	// NoFloor skips the side-by-side bare relay.
	NoFloor bool
	// Shipped, if set, is the argv prefix of `p2pstreams serve` (e.g.
	// {os.Executable(), "serve"}): idle and relay then also measure the
	// server as users run it, first (spawn targets only).
	Shipped []string
	// Everyday are the paced relay rates (messages/s in all) that relay
	// measures server CPU per message at, on every server; default 1000,
	// 2000, 10000; rates <= 0 are left out (a single 0: none).
	Everyday []float64
	// ServerProcs is GOMAXPROCS of spawned servers; default 1 (the targets
	// are "on one core"); negative leaves the runtime's default.
	ServerProcs int

	// N is the number of connections (idle; default 10000) or of clients
	// (storm, default 10000; webrtc, sessions, default 200).
	N int
	// Concurrency bounds connections being opened at once; default 256
	// (webrtc: sessions negotiating at once, default 4).
	Concurrency int
	// Group is the number of peers per session in storm; default 8.
	Group int
	// Rate paces storm joins (per second) and the relay latency phase
	// (messages per second; default half the server's measured maximum).
	// 0 means as fast as possible (storm).
	Rate float64

	// FloorFirst measures the floor before the server, so that runs can
	// alternate the order (the one measured first warms the bench process).
	FloorFirst bool

	// TURN (webrtc) also opens sessions through the embedded TURN server
	// (relay only) and measures DataChannel throughput direct and relayed,
	// with the TURN server's CPU per MB (turn.go).
	TURN bool
	// TURNMB is the payload each throughput run sends, in MiB; default 32.
	TURNMB int

	// Pairs is the number of host/client pairs in relay; default 32.
	Pairs int
	// Messages is how many messages relay sends in each phase; default 200000.
	Messages int
	// Size is the size in bytes of each relayed message as sent; default 256.
	Size int
	// Window bounds the messages in flight per direction of a pair; default 64.
	Window int

	// Settle is how long idle connections stay idle before the memory with
	// them is measured; default 3 s.
	Settle time.Duration

	// Sources is the number of loopback source addresses the load generator
	// binds to; default one per 2000 connections, at least 8 (one address
	// has ~28k ephemeral ports, and connect() slows down well before that).
	Sources int
	// Timeout bounds each scenario against each server; default 2 minutes.
	Timeout time.Duration
	// Redis is the host:port of the Redis the hop scenario's two nodes share;
	// default: a redis-server (from PATH) that the run starts and stops.
	Redis string

	// Profile, if set, is a directory where spawned servers' pprof profiles
	// are saved (CPU during the measured phase, heap/allocs/goroutines at
	// the peak).
	Profile string

	// Metrics also runs the scenario against the server with Prometheus
	// metrics on, as serve ships it (store and broker timed, a registry
	// gathered every second as a scraper would), between the server and the
	// floor: the report's server_metrics and metrics_ratio give the cost.
	Metrics bool

	// Media (media.go): Bitrates are the video bitrates in kbit/s, default
	// 500 and 2500 (the first one also for join to first frame and the
	// viewer ramp); FPS the frame rate, default 30; N the viewers per
	// bitrate, default 4; MaxViewers bounds the ramp, default 64; Trials
	// is how many viewers join a streaming host one by one for join to
	// first frame, default 10; MediaWindow each measurement, default 5 s.
	// Forward: the video comes from a Go client (the "sharer"), which the
	// Go host forwards to every viewer, rather than from the host itself.
	Forward     bool
	Bitrates    []float64
	FPS         int
	MaxViewers  int
	Trials      int
	MediaWindow time.Duration
}

func (c *Config) defaults() error {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	if c.Target == "" {
		c.Target = TargetSpawn
	}
	if c.ServerProcs == 0 {
		c.ServerProcs = 1
	}
	switch c.Scenario {
	case "idle", "storm":
		def(&c.N, 10000)
	case "webrtc":
		def(&c.N, 200)
	case "relay":
	case "hop":
		def(&c.Messages, 20000)
	case "media":
		def(&c.N, 4)
		def(&c.FPS, 30)
		def(&c.MaxViewers, 64)
		def(&c.Trials, 10)
		if c.MediaWindow <= 0 {
			c.MediaWindow = 5 * time.Second
		}
		if len(c.Bitrates) == 0 {
			c.Bitrates = []float64{500, 2500}
		}
		for _, b := range c.Bitrates {
			if b <= 0 {
				return fmt.Errorf("bench: bitrate %g kbit/s is not positive", b)
			}
		}
		c.Group = max(c.N, c.MaxViewers) + 1 // the server's peers per session
		if c.Forward {
			c.Group++ // the sharer
		}
		c.NoFloor = true // the figures are the host's, not the server's
	default:
		return fmt.Errorf("bench: unknown scenario %q (idle, relay, storm, webrtc, hop, media)", c.Scenario)
	}
	switch c.Scenario {
	case "webrtc":
		def(&c.Concurrency, 4) // pion negotiations are CPU-heavy
	default:
		def(&c.Concurrency, 256)
	}
	def(&c.TURNMB, 32)
	def(&c.Group, 8)
	def(&c.Pairs, 32)
	def(&c.Messages, 200000)
	def(&c.Size, 256)
	def(&c.Window, 64)
	if c.Everyday == nil {
		c.Everyday = []float64{1000, 2000, 10000}
	}
	c.Everyday = slices.DeleteFunc(slices.Clone(c.Everyday), func(r float64) bool { return r <= 0 })
	if c.Scenario == "relay" {
		// Pairs enough that no connection sends above everydayPerConn.
		for _, r := range c.Everyday {
			c.Pairs = max(c.Pairs, int(r/(2*everydayPerConn)+0.999))
		}
	}
	def(&c.Sources, max(8, (c.N+2*c.Pairs)/2000))
	if c.Settle <= 0 {
		c.Settle = 3 * time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 2 * time.Minute
	}
	if c.Size < 128 {
		return fmt.Errorf("bench: message size %d is below the 128 bytes a routed message needs", c.Size)
	}
	if c.Group > 128 {
		return fmt.Errorf("bench: group %d exceeds the server's default of 128 peers per session", c.Group)
	}
	return nil
}
