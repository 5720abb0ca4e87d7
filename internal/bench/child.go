package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"time"
)

// A spawned server is a child process running ChildMain: the server under
// test alone in its process, so that its memory is not the load generator's.
// The parent passes the secret in the environment (not on the command line,
// where ps shows it), reads one JSON line (childHello) from the child's
// stdout, and stops it by closing its stdin.

// ChildFlag is the first argument that makes the bench command run ChildMain
// (`p2pstreams bench -child server`); it is not a user-facing flag.
const ChildFlag = "-child"

// secretEnv carries the token secret from the parent to a spawned server.
const secretEnv = "P2PSTREAMS_BENCH_SECRET"

type childHello struct {
	URL   string `json:"url"`   // ws://127.0.0.1:port/p2p/
	Admin string `json:"admin"` // http://127.0.0.1:port: /bench/mem, /debug/pprof/
	PID   int    `json:"pid"`
}

// ChildMain runs a spawned server until stdin ends or ctx is done. args are
// what follows ChildFlag: the kind (server or floor) then flags.
func ChildMain(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("bench child: missing kind")
	}
	kind := args[0]
	if kind == kindTURN {
		return turnChild(ctx, stdin, stdout)
	}
	fs := flag.NewFlagSet("bench child", flag.ContinueOnError)
	var o serverOptions
	fs.IntVar(&o.SendQueueBytes, "send-queue-bytes", 0, "")
	fs.IntVar(&o.MaxPeers, "max-peers", 0, "")
	fs.StringVar(&o.Redis, "redis", "", "")
	fs.StringVar(&o.RedisPrefix, "redis-prefix", "", "")
	fs.BoolVar(&o.Metrics, "metrics", false, "")
	memRate := fs.Int("memprofilerate", 0, "")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *memRate > 0 {
		// Before the server allocates anything: exact heap profiles.
		runtime.MemProfileRate = *memRate
	}
	secret := []byte(os.Getenv(secretEnv))
	raiseFileLimit()
	h, shutdown, err := newHandler(kind, secret, o)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", h)
	mux.HandleFunc("/bench/mem", serveMem)
	mux.HandleFunc("/debug/pprof/", serveProfile)
	addr, stop, err := listenServe(mux)
	if err != nil {
		return err
	}
	hello, _ := json.Marshal(childHello{URL: "ws://" + addr + "/p2p/", Admin: "http://" + addr, PID: os.Getpid()})
	fmt.Fprintf(stdout, "%s\n", hello)
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, stdin); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return errors.Join(shutdown(sctx), stop(sctx))
}

func serveMem(w http.ResponseWriter, r *http.Request) {
	m, err := selfMem(r.URL.Query().Get("gc") != "0")
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	json.NewEncoder(w).Encode(m)
}

// serveProfile serves runtime/pprof profiles by name (heap, allocs,
// goroutine...) and a CPU profile at /debug/pprof/profile?seconds=N. It
// stands in for net/http/pprof, whose import would register handlers on
// http.DefaultServeMux of whatever program links this package.
func serveProfile(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(r.URL.Path, "/debug/pprof/")
	if name == "profile" {
		secs, _ := strconv.Atoi(r.URL.Query().Get("seconds"))
		if secs <= 0 || secs > 300 {
			secs = 10
		}
		if err := pprof.StartCPUProfile(w); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		select {
		case <-time.After(time.Duration(secs) * time.Second):
		case <-r.Context().Done():
		}
		pprof.StopCPUProfile()
		return
	}
	p := pprof.Lookup(name)
	if p == nil {
		http.Error(w, "no profile "+name, http.StatusNotFound)
		return
	}
	if name == "heap" {
		runtime.GC()
	}
	debug, _ := strconv.Atoi(r.URL.Query().Get("debug"))
	p.WriteTo(w, debug)
}

// spawned is a server in a child process.
type spawned struct {
	k     string
	hello childHello
	cmd   *exec.Cmd
	stdin io.WriteCloser
	done  chan error
	once  sync.Once
	err   error
	// signal: the child stops on SIGTERM (serve), not when stdin closes.
	signal bool
}

// spawn starts command (argv prefix) with ChildFlag kind flags appended and
// waits for its hello line. procs > 0 sets the child's GOMAXPROCS.
func spawn(ctx context.Context, command []string, kind string, secret []byte, o serverOptions, procs int, profile bool) (*spawned, error) {
	if len(command) == 0 {
		return nil, errors.New("bench: no command to spawn a server with")
	}
	args := append(append([]string(nil), command[1:]...), ChildFlag, kind,
		"-send-queue-bytes", strconv.Itoa(o.SendQueueBytes), "-max-peers", strconv.Itoa(o.MaxPeers),
		"-redis", o.Redis, "-redis-prefix", o.RedisPrefix, "-metrics="+strconv.FormatBool(o.Metrics))
	if profile {
		// Record every allocation, so that heap profiles give exact bytes per
		// connection (this slows allocation: profiled runs are for
		// profiles, not for figures).
		args = append(args, "-memprofilerate", "1")
	}
	cmd := exec.Command(command[0], args...)
	cmd.Env = append(os.Environ(), secretEnv+"="+string(secret))
	if procs > 0 {
		cmd.Env = append(cmd.Env, "GOMAXPROCS="+strconv.Itoa(procs))
	}
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start %s: %w", filepath.Base(command[0]), err)
	}
	s := &spawned{k: kind, cmd: cmd, stdin: stdin, done: make(chan error, 1)}
	lines := make(chan string, 1)
	go func() {
		br := bufio.NewReader(stdout)
		line, _ := br.ReadString('\n')
		lines <- line
		io.Copy(io.Discard, br) // keep draining so the child never blocks on stdout
		s.done <- cmd.Wait()
	}()
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case line := <-lines:
		if err := json.Unmarshal([]byte(line), &s.hello); err != nil || s.hello.URL == "" {
			s.close(context.Background())
			return nil, fmt.Errorf("bench: spawned %s server said %q", kind, strings.TrimSpace(line))
		}
	case <-wait.Done():
		s.close(context.Background())
		return nil, fmt.Errorf("bench: spawned %s server did not start: %w", kind, wait.Err())
	}
	return s, nil
}

func (s *spawned) kind() string    { return s.k }
func (s *spawned) url() string     { return s.hello.URL }
func (s *spawned) inProcess() bool { return false }

func (s *spawned) cpu() (float64, bool) {
	sec, err := pidCPU(s.hello.PID)
	return sec, err == nil
}

func (s *spawned) mem(ctx context.Context) (Mem, bool, error) {
	return s.memAt(ctx, "/bench/mem")
}

// memNoGC measures the child as it is, without forcing a GC first.
func (s *spawned) memNoGC(ctx context.Context) (Mem, bool, error) {
	return s.memAt(ctx, "/bench/mem?gc=0")
}

func (s *spawned) memAt(ctx context.Context, path string) (Mem, bool, error) {
	if s.hello.Admin == "" {
		return s.procMem()
	}
	var m Mem
	err := s.get(ctx, path, func(r io.Reader) error { return json.NewDecoder(r).Decode(&m) })
	return m, err == nil, err
}

func (s *spawned) profile(ctx context.Context, name, query, path string) error {
	if s.hello.Admin == "" {
		return errNoAdmin
	}
	u := "/debug/pprof/" + name
	if query != "" {
		u += "?" + query
	}
	return s.get(ctx, u, func(r io.Reader) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		_, err = io.Copy(f, r)
		return errors.Join(err, f.Close())
	})
}

func (s *spawned) get(ctx context.Context, path string, read func(io.Reader) error) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.hello.Admin+path, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("bench: %s: %s: %s", path, resp.Status, b)
	}
	return read(resp.Body)
}

// close stops the child: stdin closed, then a kill if it has not exited
// when ctx ends or after 10 s.
func (s *spawned) close(ctx context.Context) error {
	s.once.Do(func() {
		s.stop()
		t := time.NewTimer(10 * time.Second)
		defer t.Stop()
		select {
		case s.err = <-s.done:
		case <-ctx.Done():
			s.cmd.Process.Kill()
			s.err = <-s.done
		case <-t.C:
			s.cmd.Process.Kill()
			s.err = <-s.done
		}
	})
	return s.err
}
