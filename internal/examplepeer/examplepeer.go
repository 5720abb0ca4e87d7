// Package examplepeer is what the Go examples (examples/record,
// examples/stream) share: the flags that join a room, the peer.Config
// they make (a token signed with the server's secret, as package token
// does), main's shape, and a writer that callbacks may share.
package examplepeer

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"time"

	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// Main runs run with the command's arguments until it returns or an
// interrupt cancels it, and exits 1 with its error.
func Main(name string, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Flags say where and as whom a peer joins.
type Flags struct {
	URL, Secret, Room, Name string
	Loopback, Verbose       bool
}

// Register defines the joining flags on fs, with name as the default peer id.
func Register(fs *flag.FlagSet, name string) *Flags {
	f := &Flags{}
	fs.StringVar(&f.URL, "url", "ws://127.0.0.1:8080/p2p/", "signaling endpoint of the server")
	fs.StringVar(&f.Secret, "secret", os.Getenv("P2PSTREAMS_SECRET"), "the server's token secret (env P2PSTREAMS_SECRET)")
	fs.StringVar(&f.Room, "room", "lobby", "room (session) to join")
	fs.StringVar(&f.Name, "name", name, "this peer's id in the room")
	fs.BoolVar(&f.Loopback, "loopback", false, "use 127.0.0.1 only (tests, and browsers started with --allow-loopback-in-peer-connection)")
	fs.BoolVar(&f.Verbose, "v", false, "log debug messages")
	return f
}

// Config is the peer.Config of these flags, logging to stderr.
func (f *Flags) Config(stderr io.Writer) (peer.Config, error) {
	tok, err := token.Issue([]byte(f.Secret), token.Claims{
		Session: protocol.SessionID(f.Room), Peer: protocol.PeerID(f.Name),
		Expires: time.Now().Add(12 * time.Hour).Unix(),
	})
	if err != nil {
		return peer.Config{}, fmt.Errorf("token (is --secret the server's?): %w", err)
	}
	level := slog.LevelInfo
	if f.Verbose {
		level = slog.LevelDebug
	}
	cfg := peer.Config{
		URL: f.URL, Token: tok,
		Logger: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if f.Loopback {
		cfg.API = peertest.LoopbackAPI()
	}
	return cfg, nil
}

// Close closes p, bounded.
func Close(p *peer.Peer) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	p.Close(ctx)
}

// SyncWriter serializes writes to W: callbacks print from their own goroutines.
type SyncWriter struct {
	mu sync.Mutex
	W  io.Writer
}

func (s *SyncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.W.Write(p)
}
