package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/p2pstreams/p2pstreams/internal/generate"
)

// The generators: `new APP`, `install`, `controller NAME`. They write files
// (never over existing ones) and print what they did and what to run next;
// they never run the go command or touch the network. The templates and the
// rules live in internal/generate.

// parseFlags parses args with fs, letting one positional argument come
// before or after the flags (`controller chat --stimulus`), and returns the
// positionals.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, flag.ErrHelp
			}
			return nil, errUsage
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// oneName parses args and wants exactly one positional argument.
func oneName(fs *flag.FlagSet, args []string, what string) (string, error) {
	pos, err := parseFlags(fs, args)
	if err != nil {
		return "", err
	}
	if len(pos) != 1 {
		fmt.Fprintf(fs.Output(), "%s: want one %s, got %d arguments\n", fs.Name(), what, len(pos))
		fs.Usage()
		return "", errUsage
	}
	return pos[0], nil
}

func helpOK(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// runController writes NAME_controller.js. The default flavour is the
// framework-free one: it runs with nothing but the Server (which serves the
// client), while a Stimulus controller also needs Stimulus in the app's
// import map; --stimulus writes a Stimulus controller.
func runController(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("controller", flag.ContinueOnError)
	fs.SetOutput(stderr)
	stimulus := fs.Bool("stimulus", false, "a Stimulus controller (imports P2pController from \"p2pstreams/stimulus\": your import map or bundler)")
	plain := fs.Bool("plain", false, "a framework-free controller (imports /p2p/p2pstreams.js); the default")
	dir := fs.String("dir", ".", "directory to write NAME_controller.js in")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: p2pstreams controller NAME [--stimulus|--plain] [--dir D]")
		fs.PrintDefaults()
	}
	name, err := oneName(fs, args, "controller NAME")
	if err != nil {
		return helpOK(err)
	}
	if *stimulus && *plain {
		return errors.New("controller: --stimulus and --plain exclude each other")
	}
	flavour := generate.Plain
	if *stimulus {
		flavour = generate.Stimulus
	}
	f, err := generate.Controller(name, flavour)
	if err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	if err := generate.Write(*dir, []generate.File{f}); err != nil {
		return fmt.Errorf("controller: %w", err)
	}
	fmt.Fprintln(stdout, "wrote", filepath.Join(*dir, f.Path))
	return nil
}

// runNew writes a runnable chat app in the directory APP.
func runNew(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("new", flag.ContinueOnError)
	fs.SetOutput(stderr)
	module := fs.String("module", "", "module path of the app (default APP)")
	replace := fs.String("replace", "", "use the p2pstreams module from this local directory (a replace directive in go.mod)")
	dir := fs.String("dir", ".", "directory to create APP in")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: p2pstreams new APP [--module PATH] [--replace DIR] [--dir D]")
		fs.PrintDefaults()
	}
	name, err := oneName(fs, args, "APP")
	if err != nil {
		return helpOK(err)
	}
	o := generate.AppOptions{Name: name, Module: *module}
	if *replace != "" {
		if o.Replace, err = filepath.Abs(*replace); err != nil {
			return fmt.Errorf("new: %w", err)
		}
	}
	files, err := generate.App(o)
	if err != nil {
		return fmt.Errorf("new: %w", err)
	}
	// Mkdir, not MkdirAll: an existing APP (file or directory) is refused.
	appDir := filepath.Join(*dir, name)
	if err := os.Mkdir(appDir, 0o755); errors.Is(err, os.ErrExist) {
		return fmt.Errorf("new: %s: %w", appDir, generate.ErrExists)
	} else if err != nil {
		return fmt.Errorf("new: %w", err)
	}
	if err := generate.Write(appDir, files); err != nil {
		return fmt.Errorf("new: %w", err)
	}
	for _, f := range files {
		fmt.Fprintln(stdout, "wrote", filepath.Join(appDir, filepath.FromSlash(f.Path)))
	}
	fmt.Fprintf(stdout, "\nNext:\n\n\tcd %s\n", appDir)
	if o.Replace == "" {
		fmt.Fprintf(stdout, "\tgo get %s@latest\n", generate.ModulePath)
	}
	fmt.Fprintln(stdout, "\tgo mod tidy\n\tgo run .\n\nthen open http://localhost:8080 in two browsers.")
	return nil
}

// runInstall wires p2pstreams into the Go module in --dir (default the
// current directory): p2pstreams.go and a template partial, or with --print
// only what to add by hand.
func runInstall(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("install", flag.ContinueOnError)
	fs.SetOutput(stderr)
	printOnly := fs.Bool("print", false, "write nothing: print the files and commands to add by hand")
	dir := fs.String("dir", ".", "the Go module's root directory (where go.mod is)")
	templates := fs.String("templates", "templates", "directory of the template partial, inside the module")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: p2pstreams install [--print] [--dir D] [--templates DIR]")
		fs.PrintDefaults()
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return helpOK(err)
	}
	if len(pos) > 0 {
		return fmt.Errorf("install: unexpected arguments %q", pos)
	}
	in, err := generate.Install(generate.InstallOptions{Dir: *dir, Templates: *templates})
	if err != nil {
		return fmt.Errorf("install: %w", err)
	}
	if *printOnly {
		for _, f := range in.Files {
			fmt.Fprintf(stdout, "// ---- %s ----\n%s\n", filepath.Join(*dir, filepath.FromSlash(f.Path)), f.Data)
		}
	} else {
		if err := generate.Write(*dir, in.Files); err != nil {
			return fmt.Errorf("install: %w (nothing written; --print shows what to add by hand)", err)
		}
		for _, f := range in.Files {
			fmt.Fprintln(stdout, "wrote", filepath.Join(*dir, filepath.FromSlash(f.Path)))
		}
	}
	fmt.Fprintln(stdout, "\nNext:")
	if !in.HasDependency {
		fmt.Fprintf(stdout, "\n\tgo get %s@latest   # adds the dependency to go.mod (not run for you)\n", generate.ModulePath)
	}
	fmt.Fprintf(stdout, `
	// in your setup code (package %s):
	srv, funcs, err := newP2PStreams()
	mux.Handle("/p2p/", srv)   // signaling, and the browser client at /p2p/p2pstreams.js
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.Dir("static"))))
	tmpl := template.New("").Funcs(funcs) // before parsing templates that use p2pFrameStart
	defer srv.Shutdown(ctx)

	// in a page, with a p2pstreams.FrameOptions{Session: ..., Peer: ...} as .Frame:
	{{template "p2pstreams_room" .Frame}}

	// the controller the partial loads from /static/chat_controller.js:
	p2pstreams controller chat --dir static

	// the secret that signs the tokens (at least 16 bytes, the same on every
	// node; unset, a random one per process, so tokens die with a restart):
	export P2PSTREAMS_SECRET="$(head -c 32 /dev/urandom | base64)"
`, in.Package)
	return nil
}
