package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/internal/testenv"
)

// TestMain lets the test binary act as a spawned server: Run's Command
// points at this binary with childEnv set, as the CLI points at itself.
func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" && len(os.Args) > 1 && os.Args[1] == ChildFlag {
		if err := ChildMain(context.Background(), os.Args[2:], os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString("bench child: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

const childEnv = "P2PSTREAMS_BENCH_TEST_CHILD"

// TestScenarios runs every scenario with tiny numbers against spawned and
// in-process servers, so that the bench never rots. It asserts the shape
// and sanity of the figures (every connection joined, no message lost),
// never a timing.
func TestScenarios(t *testing.T) {
	t.Setenv(childEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		cfg  Config
	}{
		{"idle/spawn", Config{Scenario: "idle", Target: TargetSpawn, N: 50, Concurrency: 8}},
		{"idle/inprocess", Config{Scenario: "idle", Target: TargetInProcess, N: 20, Concurrency: 4}},
		{"relay/spawn", Config{Scenario: "relay", Target: TargetSpawn, Pairs: 2, Messages: 400, Window: 8, Rate: 2000, Everyday: []float64{400}}},
		{"relay/4k/inprocess", Config{Scenario: "relay", Target: TargetInProcess, Pairs: 2, Messages: 200, Size: 4096, Everyday: []float64{0}}},
		{"storm/spawn", Config{Scenario: "storm", Target: TargetSpawn, N: 60, Concurrency: 16, Group: 4}},
		{"storm/paced/inprocess", Config{Scenario: "storm", Target: TargetInProcess, N: 20, Rate: 400, Group: 3}},
		{"webrtc/spawn", Config{Scenario: "webrtc", Target: TargetSpawn, N: 3, Concurrency: 2}},
		{"webrtc/turn/spawn", Config{Scenario: "webrtc", Target: TargetSpawn, N: 2, Concurrency: 2, TURN: true, TURNMB: 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := tc.cfg
			cfg.Command = []string{exe}
			cfg.Timeout = 30 * time.Second
			cfg.Settle = time.Millisecond
			var out bytes.Buffer
			rep, err := Run(context.Background(), cfg, &out)
			if err != nil {
				t.Fatal(err)
			}
			if lines := strings.Count(out.String(), "\n"); lines != 1 {
				t.Fatalf("want one JSON line, got %d: %s", lines, out.String())
			}
			var back Report
			if err := json.Unmarshal(out.Bytes(), &back); err != nil {
				t.Fatalf("output is not a JSON report: %v", err)
			}
			if rep.Floor == nil || len(rep.Ratio) == 0 {
				t.Fatalf("no floor or ratios in %s", out.String())
			}
			for name, fig := range map[string]map[string]any{"server": rep.Server, "floor": rep.Floor} {
				check(t, name, cfg, fig)
			}
		})
	}
}

func check(t *testing.T, name string, cfg Config, fig map[string]any) {
	t.Helper()
	num := func(path ...string) float64 {
		var v any = fig
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				t.Fatalf("%s: no %v in %v", name, path, fig)
			}
			v = m[p]
		}
		f, ok := v.(float64)
		if !ok {
			t.Fatalf("%s: %v is %v, not a number", name, path, v)
		}
		return f
	}
	switch cfg.Scenario {
	case "idle":
		if got := num("connections"); got != float64(cfg.N) {
			t.Errorf("%s: %v of %d connections joined (failures %v)", name, got, cfg.N, fig["failures"])
		}
		if num("connect_join", "n") != float64(cfg.N) || num("connect_join", "p50_ms") <= 0 {
			t.Errorf("%s: latencies %v", name, fig["connect_join"])
		}
		if num("mem_with", "goroutines") < float64(cfg.N) {
			t.Errorf("%s: fewer goroutines than connections: the memory was not measured with them open", name)
		}
		if num("mem_with", "rss") <= 0 || num("mem_with", "heap_alloc") <= 0 {
			t.Errorf("%s: memory not measured: %v", name, fig["mem_with"])
		}
	case "relay":
		for _, ph := range []string{"max", "paced"} {
			if lost := num(ph, "lost"); lost != 0 {
				t.Errorf("%s %s: %v messages lost", name, ph, lost)
			}
			if num(ph, "received") < float64(cfg.Messages/2) || num(ph, "msgs_per_sec") <= 0 {
				t.Errorf("%s %s: %v", name, ph, fig[ph])
			}
			if num(ph, "latency", "n") != num(ph, "received") {
				t.Errorf("%s %s: %v latencies for %v messages", name, ph, num(ph, "latency", "n"), num(ph, "received"))
			}
		}
	case "webrtc":
		if num("opened") != float64(cfg.N) || num("failed") != 0 {
			t.Errorf("%s: %v of %d DataChannels opened, failures %v", name, num("opened"), cfg.N, fig["failures"])
		}
		if num("join_to_open", "p50_ms") <= 0 || num("host_join", "n") != float64(cfg.N) {
			t.Errorf("%s: figures %v", name, fig)
		}
		// Every session's join splits into every phase (phases.go).
		var names []string
		for _, s := range phaseSteps {
			names = append(names, s.phase)
		}
		for _, s := range sidePhases {
			names = append(names, s.phase)
		}
		if tp, _ := fig["tail_phases"].(map[string]any); len(tp) == 0 {
			t.Errorf("%s: no tail phases: %v", name, fig)
		}
		for _, ph := range names {
			if num("phases", ph, "n") != float64(cfg.N) {
				t.Errorf("%s: phase %s in %v of %d sessions: %v", name, ph, num("phases", ph, "n"), cfg.N, fig["phases"])
			}
		}
		if cfg.TURN && name == "server" {
			if num("turn", "relayed") != float64(cfg.N) || num("turn", "opened") != float64(cfg.N) {
				t.Errorf("%s: %v of %d sessions relayed through TURN: %v", name, num("turn", "relayed"), cfg.N, fig["turn"])
			}
			if num("turn", "direct_mb_per_s") <= 0 || num("turn", "relayed_mb_per_s") <= 0 || num("turn", "turn_cpu_ms_per_mb") < 0 {
				t.Errorf("%s: TURN figures %v", name, fig["turn"])
			}
		}
	case "storm":
		if num("joined") != float64(cfg.N) || num("failed") != 0 {
			t.Errorf("%s: joined %v of %d, failures %v", name, num("joined"), cfg.N, fig["failures"])
		}
		if num("join", "p99_ms") <= 0 || num("joins_per_sec") <= 0 {
			t.Errorf("%s: figures %v", name, fig)
		}
	}
}

func TestConfigRefusals(t *testing.T) {
	for _, cfg := range []Config{
		{Scenario: "nope"},
		{Scenario: "relay", Size: 64},
		{Scenario: "idle", Target: "ws://10.0.0.1:80/p2p/", Secret: []byte("0123456789abcdef")},
		{Scenario: "idle", Target: "ws://127.0.0.1:1/p2p/"}, // no secret
	} {
		if _, err := Run(context.Background(), cfg, &bytes.Buffer{}); err == nil {
			t.Errorf("%+v: no error", cfg)
		}
	}
}

func TestRatiosAndSummary(t *testing.T) {
	got := ratios(map[string]any{"a": 2.0, "l": map[string]any{"p50_ms": 3.0, "n": 5.0}, "s": "x"},
		map[string]any{"a": 4.0, "l": map[string]any{"p50_ms": 1.5, "n": 5.0}, "z": 1.0})
	if len(got) != 2 || got["a"] != 0.5 || got["l.p50_ms"] != 2 {
		t.Fatalf("ratios: %v", got)
	}
	d := make([]time.Duration, 100)
	for i := range d {
		d[i] = time.Duration(100-i) * time.Millisecond
	}
	l := summarize(d)
	if l.N != 100 || l.P50 != 50 || l.P99 != 99 || l.Max != 100 {
		t.Fatalf("summary: %+v", l)
	}
}

// TestHop runs the hop scenario (two nodes on one Redis, against one node)
// with tiny numbers, on a redis-server the test starts.
func TestHop(t *testing.T) {
	rds := testenv.Redis(t)
	t.Setenv(childEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Scenario: "hop", Redis: rds.Addr, Command: []string{exe}, Pairs: 2, Messages: 200, Rate: 500, Timeout: 30 * time.Second}
	var out bytes.Buffer
	rep, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Floor != nil {
		t.Errorf("hop has no floor: %v", rep.Floor)
	}
	for _, nodes := range []string{"one_node_memory", "two_nodes_redis"} {
		m, _ := rep.Server[nodes].(map[string]any)
		for _, ph := range []string{"max", "paced"} {
			p, _ := m[ph].(map[string]any)
			if p == nil || p["lost"] != 0.0 || p["received"].(float64) < 100 {
				t.Errorf("%s %s: %v", nodes, ph, p)
			}
		}
	}
	if _, ok := rep.Server["extra_p99_ms"].(float64); !ok {
		t.Errorf("no extra_p99_ms in %v", rep.Server)
	}
}

// startRedis (hop without -redis) starts a redis-server that answers, and
// stop leaves neither the process nor its directory behind.
func TestStartRedis(t *testing.T) {
	testenv.Need(t, "redis-server", "redis-server")
	p, err := startRedis(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp4", p.addr)
	if err != nil {
		p.stop()
		t.Fatal(err)
	}
	c.Write([]byte("PING\r\n"))
	buf := make([]byte, 7)
	_, err = io.ReadFull(c, buf)
	c.Close()
	p.stop()
	if err != nil || string(buf) != "+PONG\r\n" {
		t.Fatalf("PING: %q %v", buf, err)
	}
	if _, err := os.Stat(p.dir); !os.IsNotExist(err) {
		t.Errorf("redis directory %s left behind: %v", p.dir, err)
	}
	if p.cmd.ProcessState == nil {
		t.Error("redis-server not waited for")
	}
}

// TestMediaScenario runs the media scenario tiny, so that it never rots:
// every viewer joined and got frames, the figures are there. No timing.
// The forwarded one: the video from a Go client, through the Go host.
func TestMediaScenario(t *testing.T)          { mediaScenario(t, false) }
func TestMediaScenarioForwarded(t *testing.T) { mediaScenario(t, true) }

func mediaScenario(t *testing.T, forward bool) {
	t.Setenv(childEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Scenario: "media", Target: TargetSpawn, Command: []string{exe}, N: 2, MaxViewers: 2, Trials: 2, Forward: forward,
		Bitrates: []float64{100, 400}, MediaWindow: 500 * time.Millisecond, Timeout: 60 * time.Second}
	var out bytes.Buffer
	rep, err := Run(context.Background(), cfg, &out)
	if err != nil {
		t.Fatal(err)
	}
	var f mediaFigures
	b, _ := json.Marshal(rep.Server)
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	if f.JoinToFirstFrame.N != 2 || f.JoinFailures != 0 {
		t.Errorf("join to first frame: %+v, %d failures", f.JoinToFirstFrame, f.JoinFailures)
	}
	if len(f.Loads) != 2 {
		t.Fatalf("loads: %+v, want one per bitrate", f.Loads)
	}
	for _, l := range f.Loads {
		if l.Viewers != 2 || l.RTPKbpsPerViewer <= 0 || l.Delivered <= 0 || l.FrameBytes != int(l.Kbps*1000/8/30) {
			t.Errorf("load %+v: want 2 viewers receiving frames of the bitrate's size", l)
		}
	}
	if f.Loads[1].RTPKbpsPerViewer <= f.Loads[0].RTPKbpsPerViewer {
		t.Errorf("%g kbit/s per viewer at 400 kbit/s, not more than %g at 100", f.Loads[1].RTPKbpsPerViewer, f.Loads[0].RTPKbpsPerViewer)
	}
	if len(f.Capacity.Steps) == 0 || f.Capacity.Stopped == "" {
		t.Errorf("capacity: %+v", f.Capacity)
	}
	t.Logf("%s", out.String())
}
