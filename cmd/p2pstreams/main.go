// Command p2pstreams runs the p2pstreams signaling server with its demo chat,
// and (as they land) the benchmark and the code generators.
//
// Usage:
//
//	p2pstreams serve [--addr :8080] [--secret S] [--redis URL]
//	p2pstreams new APP [--module PATH] [--replace DIR] [--dir D]
//	p2pstreams install [--print] [--dir D] [--templates DIR]
//	p2pstreams controller NAME [--plain|--stimulus] [--dir D]
//	p2pstreams help [COMMAND]
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil && !errors.Is(err, errUsage) {
		fmt.Fprintln(os.Stderr, "p2pstreams:", err)
	}
	if err != nil {
		os.Exit(1)
	}
}

// command is one subcommand. ctx ends on SIGINT/SIGTERM.
type command struct {
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
	short string
}

// commands is the subcommand table. Adding a subcommand is one line here; its
// code lives in its own file (serve.go, bench.go, generate.go).
var commands = map[string]command{
	"serve":      {runServe, "run the signaling server and the demo chat"},
	"bench":      {runBench, "measure the server against a bare relay (idle, relay, storm, webrtc, hop), and Go media (media)"},
	"install":    {runInstall, "wire p2pstreams into the Go module here (p2pstreams.go, a template partial)"},
	"controller": {runController, "write NAME_controller.js with every callback stubbed (plain or --stimulus)"},
	"new":        {runNew, "write a runnable chat app in the directory APP"},
}

// errUsage means the usage was printed already; main prints nothing more.
var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		usage(stderr)
		return errUsage
	}
	switch args[0] {
	case "help", "-h", "-help", "--help":
		if len(args) > 1 { // help COMMAND: the command's own usage
			if c, ok := commands[args[1]]; ok {
				return c.run(ctx, []string{"-h"}, stdout, stdout)
			}
		}
		usage(stdout)
		return nil
	}
	c, ok := commands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "p2pstreams: unknown command %q\n\n", args[0])
		usage(stderr)
		return errUsage
	}
	return c.run(ctx, args[1:], stdout, stderr)
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: p2pstreams COMMAND [flags]\n\nCommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-11s %s\n", n, commands[n].short)
	}
	fmt.Fprintln(w, "\nRun 'p2pstreams help COMMAND' (or 'p2pstreams COMMAND -h') for a command's flags.")
}
