// Command bot is a Go peer that joins a p2pstreams chat room (the demo of
// `p2pstreams serve`) and answers every message with an echo.
//
//	p2pstreams serve --secret 0123456789abcdef0123 &
//	go run ./examples/bot --secret 0123456789abcdef0123 --room lobby
//
// It signs its own token with the server's secret (package token), so it
// needs the same --secret (or P2PSTREAMS_SECRET). If it is the first in the
// room it becomes the host, and browsers that join connect to it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"time"

	"github.com/p2pstreams/p2pstreams/internal/examplepeer"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bot:", err)
		os.Exit(1)
	}
}

// echoPrefix starts every answer; the bot does not answer such lines, so
// two bots in one room do not talk forever.
const echoPrefix = "echo "

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	url := fs.String("url", "ws://127.0.0.1:8080/p2p/", "signaling endpoint of the server")
	secret := fs.String("secret", os.Getenv("P2PSTREAMS_SECRET"), "the server's token secret (env P2PSTREAMS_SECRET)")
	room := fs.String("room", "lobby", "room (session) to join")
	name := fs.String("name", "bot", "the bot's peer id in the room")
	loopback := fs.Bool("loopback", false, "use 127.0.0.1 only (tests, and browsers started with --allow-loopback-in-peer-connection); default: pion's defaults, every interface")
	verbose := fs.Bool("v", false, "log debug messages")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stdout = &examplepeer.SyncWriter{W: stdout} // the callbacks print from their own goroutine
	tok, err := token.Issue([]byte(*secret), token.Claims{
		Session: protocol.SessionID(*room), Peer: protocol.PeerID(*name),
		Expires: time.Now().Add(12 * time.Hour).Unix(),
	})
	if err != nil {
		return fmt.Errorf("token (is --secret the server's?): %w", err)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	cfg := peer.Config{
		URL: *url, Token: tok,
		Logger:  slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
		OnState: func(s peer.State) { fmt.Fprintln(stdout, "state:", s) },
	}
	if *loopback {
		cfg.API = peertest.LoopbackAPI()
	}
	// The callback needs the Peer, which Join returns.
	var self atomic.Pointer[peer.Peer]
	cfg.OnMessage = func(m peer.Message) {
		text := m.Text()
		fmt.Fprintf(stdout, "%s: %s\n", m.From, text)
		p := self.Load()
		if p == nil || m.From == p.ID() || strings.HasPrefix(text, echoPrefix) {
			return
		}
		if err := p.Send(ctx, echoPrefix+string(m.From)+": "+text); err != nil {
			fmt.Fprintln(stderr, "bot: send:", err)
		}
	}

	jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	bot, err := peer.Join(jctx, cfg)
	if err != nil {
		return err
	}
	self.Store(bot)
	role := "client of " + string(bot.HostID())
	if bot.IsHost() {
		role = "host"
	}
	fmt.Fprintf(stdout, "bot %q joined room %q as %s\n", bot.ID(), bot.SessionID(), role)

	select {
	case <-ctx.Done():
	case <-bot.Done():
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer ccancel()
	bot.Close(cctx)
	if err := bot.Err(); err != nil && !errors.Is(err, peer.ErrClosed) {
		return err
	}
	return nil
}
