package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
	"github.com/p2pstreams/p2pstreams/turncred"
	"github.com/p2pstreams/p2pstreams/turnserver"
)

// kindTURN is the spawned embedded TURN server (ChildMain), alone in its
// process so that its CPU is its own.
const kindTURN = "turn"

// turnFigures are the webrtc scenario's TURN part (Config.TURN): the same
// sessions through the embedded TURN server on loopback (relay only), and
// one session's DataChannel throughput direct and relayed.
type turnFigures struct {
	Sessions   int            `json:"sessions"`
	Opened     int            `json:"opened"`
	Relayed    int            `json:"relayed"` // opened sessions whose selected pair is relay
	Failures   map[string]int `json:"failures,omitempty"`
	JoinToOpen Latency        `json:"join_to_open"` // client: Join called to DataChannel open, relayed
	// Throughput: the client sends MB of 16 KiB messages, the host relays
	// each one back to it (as it does every Data message): MB/s of payload
	// each way, until the last one is back.
	MB             int     `json:"mb"`
	DirectMBps     float64 `json:"direct_mb_per_s"`
	RelayedMBps    float64 `json:"relayed_mb_per_s"`
	TURNCPUMsPerMB float64 `json:"turn_cpu_ms_per_mb"`        // TURN server CPU per MB of payload relayed one way (both allocations)
	TURNInProcess  bool    `json:"turn_in_process,omitempty"` // no CPU figure: the TURN server shared this process
}

// runTURN measures the TURN part against t.
func runTURN(ctx context.Context, r *runner, t target, d *dialer) (*turnFigures, error) {
	ts, err := startTURN(ctx, r)
	if err != nil {
		return nil, err
	}
	defer ts.close(context.Background())
	api := relayAPI()
	relayed := func(c *peer.Config, session int, id string) {
		c.API = api
		u, p := turncred.Make(r.secret, turncred.User(sessionID("turn", session), peerID(id)), time.Now().Add(time.Hour))
		c.ICEServers = []webrtc.ICEServer{{URLs: []string{ts.url + "?transport=udp"}, Username: u, Credential: p}}
		c.ICETransportPolicy = webrtc.ICETransportPolicyRelay
	}
	n, conc := min(r.cfg.N, 100), min(r.cfg.Concurrency, r.cfg.N, 100)
	s := openSessions(ctx, r, t, d, "turn", n, conc, relayed, false)
	f := &turnFigures{Sessions: n, Opened: len(s.openLat), Failures: topFailures(s.failures), JoinToOpen: summarize(s.openLat), MB: r.cfg.TURNMB}
	for _, p := range s.peers {
		if st := p.Stats(); !p.IsHost() && len(st) == 1 && st[0].Relayed {
			f.Relayed++
		}
	}
	closePeers(s.peers)

	if f.DirectMBps, _, err = throughput(ctx, r, t, d, "tput-direct", nil, nil); err != nil {
		return nil, fmt.Errorf("direct throughput: %w", err)
	}
	var cpu float64
	if f.RelayedMBps, cpu, err = throughput(ctx, r, t, d, "turn", relayed, ts.cpu); err != nil {
		return nil, fmt.Errorf("relayed throughput: %w", err)
	}
	if cpu > 0 {
		f.TURNCPUMsPerMB = round(cpu * 1000 / float64(2*r.cfg.TURNMB))
	}
	f.TURNInProcess = ts.cpu == nil
	return f, nil
}

// relayAPI is peertest.LoopbackAPI that accepts a relayed candidate pair
// at once: pion waits 2 s for a better pair by default, which with relay
// only never comes (and would be the whole join-to-open figure).
func relayAPI() *webrtc.API {
	se := peertest.LoopbackSettings()
	se.SetRelayAcceptanceMinWait(0)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// throughput runs one session and returns the MB/s of payload each way,
// and the CPU seconds cpu (if set) counted meanwhile.
func throughput(ctx context.Context, r *runner, t target, d *dialer, prefix string, tune func(*peer.Config, int, string), cpu func() (float64, bool)) (mbps, cpuSec float64, err error) {
	const size = 16 << 10
	count := r.cfg.TURNMB << 20 / size
	var back atomic.Int64
	done := make(chan struct{})
	s := openSessions(ctx, r, t, d, prefix, 1, 1, func(c *peer.Config, session int, id string) {
		if tune != nil {
			tune(c, session, id)
		}
		if id == "client" {
			c.OnMessage = func(m peer.Message) {
				if m.From == "client" && back.Add(1) == int64(count) {
					close(done)
				}
			}
		}
	}, false)
	defer closePeers(s.peers)
	var client *peer.Peer
	for _, p := range s.peers {
		if !p.IsHost() {
			client = p
		}
	}
	if client == nil {
		return 0, 0, fmt.Errorf("no session: %v", s.failures)
	}
	payload := strings.Repeat("x", size-2) // a JSON string of size bytes
	c0, _ := cpuOf(cpu)
	t0 := time.Now()
	for range count {
		if err := client.Send(ctx, payload); err != nil {
			return 0, 0, err
		}
	}
	select {
	case <-done:
	case <-ctx.Done():
		return 0, 0, fmt.Errorf("%d of %d messages came back: %w", back.Load(), count, ctx.Err())
	}
	el := time.Since(t0)
	c1, ok := cpuOf(cpu)
	if ok {
		cpuSec = c1 - c0
	}
	return round(float64(count*size) / (1 << 20) / el.Seconds()), cpuSec, nil
}

func cpuOf(f func() (float64, bool)) (float64, bool) {
	if f == nil {
		return 0, false
	}
	return f()
}

// turnTarget is the TURN server of a run: spawned (cpu set) or in this process.
type turnTarget struct {
	url   string // turn:127.0.0.1:PORT
	cpu   func() (float64, bool)
	close func(context.Context) error
}

func startTURN(ctx context.Context, r *runner) (*turnTarget, error) {
	if len(r.cfg.Command) == 0 {
		ts, err := turnserver.Listen(turnserver.Config{Addr: "127.0.0.1:0", Secret: r.secret})
		if err != nil {
			return nil, err
		}
		return &turnTarget{url: fmt.Sprintf("turn:127.0.0.1:%d", ts.Port()), close: func(context.Context) error { return ts.Close() }}, nil
	}
	s, err := spawn(ctx, r.cfg.Command, kindTURN, r.secret, serverOptions{}, r.cfg.ServerProcs, false)
	if err != nil {
		return nil, err
	}
	return &turnTarget{url: s.url(), cpu: s.cpu, close: s.close}, nil
}

// turnChild is ChildMain for kindTURN: the embedded TURN server on a free
// loopback port, its secret the token secret, until stdin ends.
func turnChild(ctx context.Context, stdin io.Reader, stdout io.Writer) error {
	ts, err := turnserver.Listen(turnserver.Config{Addr: "127.0.0.1:0", Secret: []byte(os.Getenv(secretEnv))})
	if err != nil {
		return err
	}
	hello, _ := json.Marshal(childHello{URL: fmt.Sprintf("turn:127.0.0.1:%d", ts.Port()), PID: os.Getpid()})
	fmt.Fprintf(stdout, "%s\n", hello)
	done := make(chan struct{})
	go func() { io.Copy(io.Discard, stdin); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
	return ts.Close()
}
