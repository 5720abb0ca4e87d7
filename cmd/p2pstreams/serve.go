package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/demo"
)

// serveConfig is what `serve` runs with. Each flag has an environment
// variable; a flag given on the command line wins over it.
type serveConfig struct {
	Addr   string
	Secret string
	Redis  string
	TURN   turnConfig // serve_turn.go
}

// serveFlags declares the flags of `serve` on fs. A new flag is one line
// here and one field in serveConfig.
func serveFlags(fs *flag.FlagSet, c *serveConfig) {
	fs.StringVar(&c.Addr, "addr", env("P2PSTREAMS_ADDR", ":8080"), "address to listen on (env P2PSTREAMS_ADDR)")
	fs.StringVar(&c.Secret, "secret", env("P2PSTREAMS_SECRET", ""), "token secret, at least 16 bytes; empty means a random one per process (env P2PSTREAMS_SECRET)")
	fs.StringVar(&c.Redis, "redis", env("P2PSTREAMS_REDIS", ""), "redis:// URL: keep sessions and route messages in Redis, so that several nodes serve together; empty means in memory (env P2PSTREAMS_REDIS)")
	turnFlags(fs, &c.TURN)
}

func env(name, def string) string {
	if v, ok := os.LookupEnv(name); ok {
		return v
	}
	return def
}

// runServe runs the signaling server at /p2p/ and the demo chat at /, until
// ctx ends; then it shuts the server down, telling the peers.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var c serveConfig
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	serveFlags(fs, &c)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected arguments %q", fs.Args())
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))

	secret := []byte(c.Secret)
	if len(secret) == 0 {
		secret = p2pstreams.RandomSecret()
		log.Warn("no --secret or P2PSTREAMS_SECRET: using a random secret; tokens will not survive a restart")
	}
	opts := &p2pstreams.Options{Secret: secret, Logger: log}
	ice, closeTURN, err := startTURN(c.TURN, log)
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
	srv, err := p2pstreams.NewServer(opts)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/", demo.New(srv, demo.Options{Mount: "/p2p/"}))

	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		srv.Shutdown(context.Background())
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "p2pstreams: demo chat at %s (signaling at /p2p/); Ctrl-C stops\n", openURL(ln.Addr()))

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
