package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/p2pstreams/p2pstreams/internal/bench"
)

// runBench runs `p2pstreams bench SCENARIO [flags]`: one JSON line of
// figures on stdout, for the server and, side by side, the bare relay floor.
// BENCHMARKS.md says how the recorded figures were made.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == bench.ChildFlag {
		// A server spawned by a bench run (see bench.ChildMain).
		return bench.ChildMain(ctx, args[1:], os.Stdin, stdout)
	}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, `Usage: p2pstreams bench SCENARIO [flags]

Scenarios (each prints one JSON line):
  idle    N joined host connections: server memory per connection, connect+join latency
  relay   pairs exchanging routed messages: messages/s, one-way latency, lost messages
  storm   N clients joining at once: joins/s, latency percentiles, failures
  webrtc  Go peers opening DataChannels through the server: join to DataChannel open,
          and its phases (WebSocket, join, offer/answer routing, ICE, DTLS, SCTP)
          (-turn: also through the embedded TURN server, and DataChannel MB/s
          direct and relayed, with the TURN server's CPU per MB)
  hop     relay pairs split over two nodes sharing a Redis, against one node:
          the latency a Redis hop adds (starts its own redis-server unless -redis)
  media   a Go host sending VP8 video to Go viewers: join to first frame, CPU and
          uplink per viewer at each -bitrates, viewers sustained before frames drop

Flags:`)
		fs.PrintDefaults()
	}
	var (
		cfg       bench.Config
		secret    string
		noShipped bool
		everyday  string
	)
	fs.StringVar(&cfg.Target, "target", bench.TargetSpawn, "spawn (servers in child processes), inprocess, or the ws:// URL of a running server on loopback")
	fs.StringVar(&secret, "secret", "", "token secret of the server at -target URL (default $P2PSTREAMS_SECRET)")
	fs.IntVar(&cfg.PID, "pid", 0, "PID of the server at -target URL, to read its memory and CPU")
	fs.BoolVar(&cfg.NoFloor, "no-floor", false, "skip the side-by-side bare relay (floor)")
	fs.BoolVar(&noShipped, "no-shipped", false, "idle, relay: skip `p2pstreams serve` as shipped (measured first, with its defaults, no forced GC)")
	fs.StringVar(&everyday, "everyday", "1000,2000,10000", "relay: paced rates (msgs/s in all) measured for server CPU per message on every server; 0 for none")
	fs.IntVar(&cfg.ServerProcs, "server-procs", 1, "GOMAXPROCS of spawned servers (-1: runtime default)")
	fs.IntVar(&cfg.N, "n", 0, "connections (idle, storm; default 10000) or sessions (webrtc; default 200)")
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "connections opened at once (default 256)")
	fs.IntVar(&cfg.Group, "group", 0, "peers per session in storm (default 8)")
	fs.Float64Var(&cfg.Rate, "rate", 0, "storm: joins/s (0: as fast as -concurrency allows); relay: paced messages/s (default half the server's maximum)")
	fs.IntVar(&cfg.Pairs, "pairs", 0, "relay: host/client pairs (default 32)")
	fs.IntVar(&cfg.Messages, "messages", 0, "relay: messages per phase (default 200000)")
	fs.IntVar(&cfg.Size, "size", 0, "relay: message size in bytes (default 256)")
	fs.IntVar(&cfg.Window, "window", 0, "relay: messages in flight per direction of a pair (default 64)")
	fs.IntVar(&cfg.Sources, "sources", 0, "loopback source addresses to bind (default one per 2000 connections, at least 8)")
	fs.DurationVar(&cfg.Timeout, "timeout", 0, "bound of each scenario against each server (default 2m)")
	fs.StringVar(&cfg.Profile, "profile", "", "directory for pprof profiles of spawned servers")
	fs.BoolVar(&cfg.TURN, "turn", false, "webrtc: also through the embedded TURN server (relay only), and DataChannel throughput direct and relayed")
	fs.IntVar(&cfg.TURNMB, "turn-mb", 0, "webrtc -turn: MiB each throughput run sends (default 32)")
	fs.BoolVar(&cfg.FloorFirst, "floor-first", false, "measure the floor before the server (to alternate the order between runs)")
	fs.BoolVar(&cfg.Metrics, "metrics", false, "also run against the server with Prometheus metrics on (server_metrics, metrics_ratio in the report)")
	fs.StringVar(&cfg.Redis, "redis", "", "hop: host:port of a Redis to use (default: start redis-server on a free loopback port)")
	bitrates := fs.String("bitrates", "500,2500", "media: video bitrates in kbit/s")
	fs.IntVar(&cfg.FPS, "fps", 0, "media: frames per second (default 30)")
	fs.IntVar(&cfg.MaxViewers, "max-viewers", 0, "media: most viewers the ramp tries (default 64, at most 127: the server's 128 peers per session)")
	fs.BoolVar(&cfg.Forward, "forward", false, "media: a Go client sends the video and the Go host forwards it to the viewers (at most 126 viewers then)")
	fs.IntVar(&cfg.Trials, "trials", 0, "media: viewers timed from join to first frame (default 10)")
	fs.DurationVar(&cfg.MediaWindow, "window-time", 0, "media: each measurement's length (default 5s)")
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		fs.Usage()
		if len(args) > 0 && (args[0] == "-h" || args[0] == "-help" || args[0] == "--help") {
			return nil
		}
		return errUsage
	}
	cfg.Scenario = args[0]
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if secret == "" {
		secret = os.Getenv("P2PSTREAMS_SECRET")
	}
	cfg.Secret = []byte(secret)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	cfg.Command = []string{exe, "bench"}
	if !noShipped {
		cfg.Shipped = []string{exe, "serve"}
	}
	for _, f := range strings.Split(everyday, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r < 0 {
			fmt.Fprintf(stderr, "bench: -everyday: %q is not a rate\n", f)
			return errUsage
		}
		cfg.Everyday = append(cfg.Everyday, r)
	}
	for _, f := range strings.Split(*bitrates, ",") {
		r, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || r <= 0 {
			fmt.Fprintf(stderr, "bench: -bitrates: %q is not a bitrate\n", f)
			return errUsage
		}
		cfg.Bitrates = append(cfg.Bitrates, r)
	}
	_, err = bench.Run(ctx, cfg, stdout)
	return err
}
