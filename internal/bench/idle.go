package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// idleFigures are the idle scenario's results for one server.
type idleFigures struct {
	Connections int            `json:"connections"` // joined and held
	Failed      int            `json:"failed"`
	Failures    map[string]int `json:"failures,omitempty"`
	Connect     Latency        `json:"connect"`      // TCP + WebSocket handshake
	Join        Latency        `json:"join"`         // SessionJoin to SessionReady
	ConnectJoin Latency        `json:"connect_join"` // both
	ConnectsPS  float64        `json:"connects_per_sec"`

	// Memory of the server's process: before connecting, with every
	// connection open, and after closing them all. Per connection is
	// (with - before) / connections.
	MemBefore *Mem `json:"mem_before,omitempty"`
	MemWith   *Mem `json:"mem_with,omitempty"`
	MemAfter  *Mem `json:"mem_after,omitempty"`

	RSSPerConn        float64 `json:"rss_per_conn,omitempty"`
	HeapPerConn       float64 `json:"heap_per_conn,omitempty"`       // live heap (HeapAlloc)
	HeapInusePerConn  float64 `json:"heap_inuse_per_conn,omitempty"` // heap spans in use
	StackPerConn      float64 `json:"stack_per_conn,omitempty"`      // goroutine stacks
	GoroutinesPerConn float64 `json:"goroutines_per_conn,omitempty"`

	// The same before any forced GC (bench child servers; for serve as
	// shipped, RSSPerConn is already that): what the process holds.
	MemWithNoGC          *Mem    `json:"mem_with_no_gc,omitempty"`
	RSSPerConnNoGC       float64 `json:"rss_per_conn_no_gc,omitempty"`
	HeapInusePerConnNoGC float64 `json:"heap_inuse_per_conn_no_gc,omitempty"`
	StackPerConnNoGC     float64 `json:"stack_per_conn_no_gc,omitempty"`
}

// runIdle opens N connections, each the host of its own session, holds
// them, and measures the server's memory before, with and after them.
func runIdle(ctx context.Context, r *runner, t target) (any, error) {
	d, err := newDialer(t.url(), r.cfg.Sources)
	if err != nil {
		return nil, err
	}
	f := &idleFigures{}
	before, ok, err := t.mem(ctx)
	if err != nil {
		return nil, fmt.Errorf("memory before: %w", err)
	}
	if ok {
		f.MemBefore = &before
	}
	o, err := openAll(ctx, r, d, r.cfg.N, r.cfg.Concurrency, 0, func(i int) (protocol.SessionID, protocol.PeerID) {
		return protocol.SessionID(fmt.Sprintf("idle-%d", i)), "host"
	})
	if err != nil {
		return nil, err
	}
	defer o.closeAll()
	// Idle peers still answer the server's keepalive pings, as browsers and
	// Go peers do, or a long run would see them closed as dead.
	for _, c := range o.conns {
		if c != nil {
			go func() {
				for {
					if _, err := c.read(); err != nil {
						return
					}
				}
			}()
		}
	}
	f.Connections, f.Failed, f.Failures = len(o.total), o.failed, topFailures(o.failures)
	f.Connect, f.Join, f.ConnectJoin = summarize(o.connect), summarize(o.join), summarize(o.total)
	f.ConnectsPS = round(float64(len(o.total)) / o.elapsed.Seconds())

	// Idle means idle: servers may shed per-connection resources after a
	// while (the floor moves an idle reader to a fresh small stack after 1 s).
	select {
	case <-time.After(r.cfg.Settle):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if ng, isChild := t.(interface {
		memNoGC(context.Context) (Mem, bool, error)
	}); isChild && f.MemBefore != nil && t.kind() != kindShipped {
		// First as the server holds it (garbage, grown stacks), then in
		// its steady state.
		m, ok, err := ng.memNoGC(ctx)
		if err != nil {
			return nil, fmt.Errorf("memory with connections, no GC: %w", err)
		}
		if n := len(o.total); ok {
			f.MemWithNoGC = &m
			f.RSSPerConnNoGC = perConn(m.RSS, before.RSS, n)
			f.HeapInusePerConnNoGC = perConn(m.HeapInuse, before.HeapInuse, n)
			f.StackPerConnNoGC = perConn(m.StackInuse, before.StackInuse, n)
		}
	}
	with, ok, err := t.mem(ctx)
	if err != nil {
		return nil, fmt.Errorf("memory with connections: %w", err)
	}
	if ok {
		f.MemWith = &with
		n := f.Connections
		f.RSSPerConn = perConn(with.RSS, before.RSS, n)
		f.HeapPerConn = perConn(with.HeapAlloc, before.HeapAlloc, n)
		f.HeapInusePerConn = perConn(with.HeapInuse, before.HeapInuse, n)
		f.StackPerConn = perConn(with.StackInuse, before.StackInuse, n)
		if n > 0 {
			f.GoroutinesPerConn = round(float64(with.Goroutines-before.Goroutines) / float64(n))
		}
	}
	if err := r.peak(ctx, t); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	o.closeAll()
	if ok {
		after, err := settle(ctx, t, before.Goroutines)
		if err != nil {
			return nil, fmt.Errorf("memory after: %w", err)
		}
		f.MemAfter = &after
	}
	return f, nil
}

// settle waits (up to 10 s) for the server to notice closed connections,
// watching its goroutine count come back near base, and measures it.
func settle(ctx context.Context, t target, base int) (Mem, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		m, _, err := t.mem(ctx)
		if err != nil || m.Goroutines <= base+2 || time.Now().After(deadline) {
			return m, err
		}
		select {
		case <-time.After(100 * time.Millisecond):
		case <-ctx.Done():
			return m, ctx.Err()
		}
	}
}
