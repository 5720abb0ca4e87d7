package bench

import (
	"context"
	"fmt"
	"net"
	"slices"
	"sync"
	"time"

	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
	"github.com/p2pstreams/p2pstreams/token"
)

// webrtcFigures are the webrtc scenario's results for one server.
type webrtcFigures struct {
	Sessions    int            `json:"sessions"`
	Opened      int            `json:"opened"` // clients whose DataChannel opened
	Failed      int            `json:"failed"`
	Failures    map[string]int `json:"failures,omitempty"`
	HostJoin    Latency        `json:"host_join"`    // host: connect + SessionJoin to SessionReady
	JoinToOpen  Latency        `json:"join_to_open"` // client: Join called to DataChannel open
	SessionsPS  float64        `json:"sessions_per_sec"`
	Seconds     float64        `json:"seconds"`
	Concurrency int            `json:"concurrency"`
	// Phases split JoinToOpen step by step (phases.go: phaseSteps, sidePhases).
	Phases map[string]Latency `json:"phases,omitempty"`
	// TailPhases counts, over the slowest 1 % of sessions (at least one),
	// the chain phase that took the most time over its own median: where
	// the tail of JoinToOpen went.
	TailPhases map[string]int `json:"tail_phases,omitempty"`
	// TURN is the part through the embedded TURN server (Config.TURN).
	TURN *turnFigures `json:"turn,omitempty"`
}

// runWebRTC has N sessions of one Go host and one Go client (package peer,
// pion/webrtc on loopback) join through the server, Concurrency sessions at
// a time, and times the client's Join: connect, join, offer, answer, ICE,
// DTLS, SCTP, DataChannel open. With Config.TURN it then does the same
// through the embedded TURN server, and measures DataChannel throughput
// direct and relayed (turn.go).
func runWebRTC(ctx context.Context, r *runner, t target) (any, error) {
	d, err := newDialer(t.url(), r.cfg.Sources)
	if err != nil {
		return nil, err
	}
	r.measuring(ctx, t, 5)
	n, conc := r.cfg.N, min(r.cfg.Concurrency, r.cfg.N)
	start := time.Now()
	s := openSessions(ctx, r, t, d, "webrtc", n, conc, nil, true)
	elapsed := time.Since(start)
	if err := r.peak(ctx, t); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	closePeers(s.peers)
	total := slices.Clone(s.openLat) // summarize sorts; tailPhases needs the sessions' order
	f := &webrtcFigures{
		Sessions: n, Opened: len(s.openLat), Failed: n - len(s.openLat), Failures: topFailures(s.failures),
		HostJoin: summarize(s.hostLat), JoinToOpen: summarize(s.openLat), Phases: summarizePhases(s.phases),
		SessionsPS: round(float64(len(s.openLat)) / elapsed.Seconds()), Seconds: round(elapsed.Seconds()),
		Concurrency: conc,
	}
	f.TailPhases = tailPhases(total, s.phases, f.Phases)
	if r.cfg.TURN && t.kind() == kindServer {
		if f.TURN, err = runTURN(ctx, r, t, d); err != nil {
			return nil, fmt.Errorf("turn: %w", err)
		}
	}
	return f, nil
}

// sessions are what openSessions made and measured.
type sessions struct {
	hostLat, openLat []time.Duration
	phases           []map[string]time.Duration // one per opened session, when traced
	failures         map[string]int
	peers            []*peer.Peer
}

// openSessions opens n sessions of a host and a client, conc at a time;
// tune, if set, adjusts each peer's Config (ICE servers, policy); traced
// gives each session a joinTrace and its own pion API to split its join
// into phases.
func openSessions(ctx context.Context, r *runner, t target, d *dialer, prefix string, n, conc int, tune func(c *peer.Config, session int, id string), traced bool) *sessions {
	api := peertest.LoopbackAPI()
	exp := time.Now().Add(time.Hour).Unix()
	var mu sync.Mutex
	s := &sessions{failures: map[string]int{}}
	fail := func(what string, err error) {
		mu.Lock()
		s.failures[what+": "+reason(err)]++
		mu.Unlock()
	}
	join := func(i int, id string, tr *joinTrace) (*peer.Peer, time.Time, time.Duration, error) {
		tok, err := token.Issue(r.secret, token.Claims{Session: sessionID(prefix, i), Peer: peerID(id), Expires: exp})
		if err != nil {
			return nil, time.Time{}, 0, err
		}
		src := d.sources[i%len(d.sources)]
		jctx, cancel := context.WithTimeout(ctx, joinTimeout)
		defer cancel()
		cfg := peer.Config{
			URL: t.url(), Token: tok, API: api, ManualFailover: true,
			NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
				nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}
				nc, err := nd.DialContext(ctx, network, addr)
				if err != nil || tr == nil {
					return nc, err
				}
				return newTapConn(nc, tr, id), nil
			},
		}
		if tr != nil {
			cfg.API = tracedAPI(tr, id)
		}
		if tune != nil {
			tune(&cfg, i, id)
		}
		t0 := time.Now()
		p, err := peer.Join(jctx, cfg)
		return p, t0, time.Since(t0), err
	}
	next := make(chan int)
	var wg sync.WaitGroup
	for range conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				var tr *joinTrace
				if traced {
					tr = &joinTrace{}
				}
				host, _, th, err := join(i, "host", tr)
				if err != nil {
					fail("host", err)
					continue
				}
				client, t0, tc, err := join(i, "client", tr)
				if err == nil && tr != nil {
					tr.markAt("client open", t0.Add(tc))
				}
				mu.Lock()
				s.peers = append(s.peers, host)
				if err == nil {
					s.peers = append(s.peers, client)
					s.hostLat = append(s.hostLat, th)
					s.openLat = append(s.openLat, tc)
					if tr != nil {
						s.phases = append(s.phases, tr.phases(t0))
					}
				}
				mu.Unlock()
				if err != nil {
					fail("client", err)
				}
			}
		}()
	}
feed:
	for i := range n {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return s
}

// closePeers closes every peer, several at a time, each bounded.
func closePeers(peers []*peer.Peer) {
	sem := make(chan struct{}, 32)
	var wg sync.WaitGroup
	for _, p := range peers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			p.Close(ctx)
		}()
	}
	wg.Wait()
}
