package p2pstreams

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Pinger is implemented by a Store or Broker that can tell whether its
// backend answers (the Redis and NATS ones do); Ready asks it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ErrShuttingDown is Ready's answer once Shutdown has begun.
var ErrShuttingDown = errors.New("p2pstreams: server is shutting down")

// Ready reports whether the server can serve new peers: it is not shutting
// down, and its Store and Broker answer within ctx (those that implement
// Pinger; the memory ones always can).
func (s *Server) Ready(ctx context.Context) error {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		return ErrShuttingDown
	}
	for _, b := range []struct {
		name string
		v    any
	}{{"store", s.store}, {"broker", s.broker}} {
		if p, ok := b.v.(Pinger); ok {
			if err := p.Ping(ctx); err != nil {
				return fmt.Errorf("p2pstreams: %s: %w", b.name, err)
			}
		}
	}
	return nil
}

// HealthHandler answers every request with 200 "ok": the process serves
// HTTP (a liveness probe, /healthz).
func HealthHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		w.Write([]byte("ok\n"))
	})
}

// ReadyHandler answers 200 "ready" when Ready returns nil within timeout
// (0 means 2s), and 503 with the reason otherwise (a readiness probe,
// /readyz).
func (s *Server) ReadyHandler(timeout time.Duration) http.Handler {
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		if err := s.Ready(ctx); err != nil {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintf(w, "not ready: %v\n", err)
			return
		}
		w.Write([]byte("ready\n"))
	})
}
