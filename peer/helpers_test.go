package peer_test

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"net/http"
	"net/http/httptest"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
	"github.com/p2pstreams/p2pstreams/protocol"
)

var loopback = peertest.LoopbackAPI()

// fastBeat makes lost links show within a second instead of four.
var fastBeat = peer.Heartbeat{Interval: 100 * time.Millisecond, IdleTimeout: 600 * time.Millisecond}

// env is a real p2pstreams server behind a real HTTP server.
type env struct {
	t    *testing.T
	srv  *p2pstreams.Server
	url  string
	recs map[protocol.PeerID]*rec // by config, for checkTransitions
}

func newEnv(t *testing.T) *env {
	t.Helper()
	checkGoroutines(t) // registered first: runs after every other cleanup
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: []byte("peer-test-secret-0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	hs := serve(t, srv, srv)
	return &env{t: t, srv: srv, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/"}
}

func (e *env) token(session, id string, config any) string {
	e.t.Helper()
	tok, err := e.srv.Token(protocol.SessionID(session), protocol.PeerID(id), time.Hour, config)
	if err != nil {
		e.t.Fatal(err)
	}
	return tok
}

// rec records what a peer's callbacks get.
type rec struct {
	mu     sync.Mutex
	msgs   []peer.Message
	states []peer.State
	peers  map[protocol.PeerID]peer.State
}

func (r *rec) messages() []peer.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

func (r *rec) stateLog() []peer.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.states)
}

func (r *rec) peerMap() map[protocol.PeerID]peer.State {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.peers
}

// serve serves h over HTTP until the test ends, then shuts srv down
// (telling its peers) and closes the HTTP server.
func serve(t *testing.T, srv *p2pstreams.Server, h http.Handler) *httptest.Server {
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	})
	return hs
}

// config returns a loopback Config for id in session, recording into r.
func (e *env) config(session, id string, r *rec) peer.Config {
	if e.recs == nil {
		e.recs = map[protocol.PeerID]*rec{}
	}
	e.recs[protocol.PeerID(id)] = r
	return peer.Config{
		URL: e.url, Token: e.token(session, id, nil), API: loopback, Heartbeat: fastBeat,
		OnMessage: func(m peer.Message) { r.mu.Lock(); r.msgs = append(r.msgs, m); r.mu.Unlock() },
		OnState:   func(s peer.State) { r.mu.Lock(); r.states = append(r.states, s); r.mu.Unlock() },
		OnPeers: func(m map[protocol.PeerID]peer.State) {
			r.mu.Lock()
			r.peers = m
			r.mu.Unlock()
		},
	}
}

// join joins and closes the peer when the test ends.
func (e *env) join(cfg peer.Config) *peer.Peer {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	p, err := peer.Join(ctx, cfg)
	if err != nil {
		e.t.Fatalf("Join: %v", err)
	}
	if r := e.recs[p.ID()]; r != nil && cfg.OnState != nil {
		e.t.Cleanup(func() { checkTransitions(e.t, p.ID(), r) }) // after the Close below
	}
	e.t.Cleanup(func() { closePeer(e.t, p) })
	return p
}

// checkTransitions fails the test if the states a peer went through (as
// recorded by e.config's OnState) break the transition table.
func checkTransitions(t *testing.T, id protocol.PeerID, r *rec) {
	states := r.stateLog()
	prev := peer.StateNew
	for _, s := range states {
		if !peer.CanBecome(prev, s) {
			t.Errorf("%s: state %v after %v (all: %v)", id, s, prev, states)
		}
		prev = s
	}
}

func closePeer(t *testing.T, p *peer.Peer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Errorf("Close %s: %v", p.ID(), err)
	}
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// checkGoroutines fails the test if goroutines started during it are still
// running at its end (after a grace period for pion's and net/http's
// goroutines that finish asynchronously).
func checkGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for runtime.NumGoroutine() > before {
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				n := runtime.Stack(buf, true)
				fmt.Fprintf(os.Stderr, "%s\n", buf[:n])
				t.Errorf("goroutines leaked: %d before, %d after (stacks above)", before, runtime.NumGoroutine())
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

var _ = webrtc.ICEServer{}
