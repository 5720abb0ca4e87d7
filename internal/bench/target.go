package bench

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// The two kinds of server a run compares.
const (
	kindServer = "server" // p2pstreams.Server
	kindFloor  = "floor"  // the bare relay
)

// target is one server under test, reachable at url.
type target interface {
	kind() string
	url() string
	// mem measures the server's process; ok is false when it cannot be
	// measured (a server at a URL without a PID).
	mem(ctx context.Context) (m Mem, ok bool, err error)
	// cpu returns the CPU seconds the server's process has used; ok is
	// false when unknown.
	cpu() (sec float64, ok bool)
	// inProcess reports whether the server shares this process (its memory
	// figures then include the load generator's).
	inProcess() bool
	// profile saves /debug/pprof/<name>?<query> to path (spawned servers only).
	profile(ctx context.Context, name, query, path string) error
	close(ctx context.Context) error
}

// newHandler returns the handler of a server of the given kind, mounted
// where the client expects it, and its shutdown.
func newHandler(kind string, secret []byte, o serverOptions) (http.Handler, func(context.Context) error, error) {
	mux := http.NewServeMux()
	switch kind {
	case kindServer:
		h, shutdown, err := newOurs(secret, o)
		if err != nil {
			return nil, nil, err
		}
		mux.Handle("/p2p/", h)
		return mux, shutdown, nil
	case kindFloor:
		mux.Handle("/p2p/", newFloor(secret))
		return mux, func(context.Context) error { return nil }, nil
	}
	return nil, nil, fmt.Errorf("bench: unknown server kind %q", kind)
}

// listenServe serves h on a fresh loopback port and returns its address and
// a stop function that shuts the HTTP server down.
func listenServe(h http.Handler) (addr string, stop func(context.Context) error, err error) {
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	hs := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	stop = func(ctx context.Context) error {
		// Hijacked WebSocket connections are the handler's to close; this
		// stops the listener and idle HTTP connections.
		err := hs.Shutdown(ctx)
		if serr := <-done; !errors.Is(serr, http.ErrServerClosed) && err == nil {
			err = serr
		}
		return err
	}
	return ln.Addr().String(), stop, nil
}

// inProc is a server in this process.
type inProc struct {
	k        string
	u        string
	shutdown func(context.Context) error
	stop     func(context.Context) error
}

func startInProcess(kind string, secret []byte, o serverOptions) (*inProc, error) {
	h, shutdown, err := newHandler(kind, secret, o)
	if err != nil {
		return nil, err
	}
	addr, stop, err := listenServe(h)
	if err != nil {
		shutdown(context.Background())
		return nil, err
	}
	return &inProc{k: kind, u: "ws://" + addr + "/p2p/", shutdown: shutdown, stop: stop}, nil
}

func (t *inProc) kind() string    { return t.k }
func (t *inProc) url() string     { return t.u }
func (t *inProc) inProcess() bool { return true }
func (t *inProc) mem(context.Context) (Mem, bool, error) {
	m, err := selfMem(true)
	return m, err == nil, err
}
func (t *inProc) cpu() (float64, bool) {
	s, err := selfCPU()
	return s, err == nil
}
func (t *inProc) profile(context.Context, string, string, string) error {
	return errors.New("bench: profiles need a spawned server (-target spawn)")
}
func (t *inProc) close(ctx context.Context) error {
	return errors.Join(t.shutdown(ctx), t.stop(ctx))
}

// remote is a server someone else runs, at a URL; with a PID, its RSS can
// be read (not its Go heap).
type remote struct {
	u   string
	pid int
}

func (t *remote) kind() string    { return kindServer }
func (t *remote) url() string     { return t.u }
func (t *remote) inProcess() bool { return false }
func (t *remote) mem(context.Context) (Mem, bool, error) {
	if t.pid <= 0 {
		return Mem{}, false, nil
	}
	rss, err := readRSS(t.pid)
	return Mem{RSS: rss}, err == nil, err
}
func (t *remote) cpu() (float64, bool) {
	if t.pid <= 0 {
		return 0, false
	}
	s, err := pidCPU(t.pid)
	return s, err == nil
}
func (t *remote) profile(context.Context, string, string, string) error {
	return errors.New("bench: profiles need a spawned server (-target spawn)")
}
func (t *remote) close(context.Context) error { return nil }
