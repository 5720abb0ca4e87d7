package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Report is the one JSON line a run prints.
type Report struct {
	Scenario string `json:"scenario"`
	Date     string `json:"date"`
	Go       string `json:"go"`
	CPUs     int    `json:"cpus"`
	Target   string `json:"target"`
	// Load is the machine's 1-minute load average before and after the
	// run (/proc/loadavg): above the CPU count, other work competed.
	Load   [2]float64     `json:"loadavg"`
	Params map[string]any `json:"params"`
	// Shipped is `p2pstreams serve` as users run it (Config.Shipped).
	Shipped map[string]any `json:"shipped,omitempty"`
	Server  map[string]any `json:"server"`
	Floor   map[string]any `json:"floor,omitempty"`
	// ServerMetrics is the server with metrics on (Config.Metrics), and
	// MetricsRatio its figures over the server's without.
	ServerMetrics map[string]any     `json:"server_metrics,omitempty"`
	MetricsRatio  map[string]float64 `json:"metrics_ratio,omitempty"`
	// Ratio is server / floor for every number both report ("join.p99_ms":
	// 1.3 means the server's p99 is 1.3 times the floor's).
	Ratio map[string]float64 `json:"ratio,omitempty"`
	// RatioShipped is shipped / floor, likewise.
	RatioShipped map[string]float64 `json:"ratio_shipped,omitempty"`
}

// scenario runs against one server and returns its figures (a struct that
// marshals to a JSON object).
type scenario func(ctx context.Context, r *runner, t target) (any, error)

var scenarios = map[string]scenario{
	"idle":   runIdle,
	"relay":  runRelay,
	"storm":  runStorm,
	"webrtc": runWebRTC,
	"hop":    nil, // runs its own servers: see Run and runHop
	"media":  runMedia,
}

// runner carries a run's config and what one server's run tells the next.
type runner struct {
	cfg    Config
	secret []byte
	// relayRate is the paced rate of relay's latency phase, fixed by the
	// first server measured so that both servers are paced alike.
	relayRate float64
	metrics   bool // the server being started runs with metrics on
	profiles  []chan error
}

// Run runs cfg.Scenario against the server and then (unless cfg.NoFloor)
// against the floor (before the server with cfg.FloorFirst), one at a
// time, and writes one JSON line to out.
func Run(ctx context.Context, cfg Config, out io.Writer) (*Report, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	if _, err := raiseFileLimit(); err != nil {
		return nil, fmt.Errorf("bench: raise the open-file limit: %w", err)
	}
	r := &runner{cfg: cfg, secret: cfg.Secret}
	if !strings.HasPrefix(cfg.Target, "ws://") {
		b := make([]byte, 24)
		rand.Read(b)
		r.secret = []byte(hex.EncodeToString(b))
	} else if len(r.secret) < 16 {
		return nil, errors.New("bench: a server at a URL needs its token secret (at least 16 bytes)")
	}
	rep := &Report{
		Scenario: cfg.Scenario, Date: time.Now().UTC().Format(time.RFC3339), Go: runtime.Version(),
		CPUs: runtime.NumCPU(), Target: cfg.Target, Params: r.params(),
	}
	rep.Load[0] = loadAvg()
	withFloor := !cfg.NoFloor && cfg.Scenario != "hop"
	if withFloor && cfg.FloorFirst {
		fig, err := r.one(ctx, kindFloor)
		if err != nil {
			return nil, fmt.Errorf("floor: %w", err)
		}
		rep.Floor = fig
	}
	if cfg.Scenario == "hop" {
		hctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
		f, err := runHop(hctx, r)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("hop: %w", err)
		}
		if rep.Server, err = toMap(f); err != nil {
			return nil, err
		}
	} else {
		if r.shipped() {
			fig, err := r.one(ctx, kindShipped)
			if err != nil {
				return nil, fmt.Errorf("serve as shipped: %w", err)
			}
			rep.Shipped = fig
		}
		fig, err := r.one(ctx, kindServer)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		rep.Server = fig
	}
	if cfg.Metrics && cfg.Scenario != "hop" {
		r.metrics = true
		fig, err := r.one(ctx, kindServer)
		r.metrics = false
		if err != nil {
			return nil, fmt.Errorf("server with metrics: %w", err)
		}
		rep.ServerMetrics = fig
		rep.MetricsRatio = ratios(rep.ServerMetrics, rep.Server)
	}
	if withFloor {
		if rep.Floor == nil {
			fig, err := r.one(ctx, kindFloor)
			if err != nil {
				return nil, fmt.Errorf("floor: %w", err)
			}
			rep.Floor = fig
		}
		rep.Ratio = ratios(rep.Server, rep.Floor)
		if rep.Shipped != nil {
			rep.RatioShipped = ratios(rep.Shipped, rep.Floor)
		}
	}
	rep.Load[1] = loadAvg()
	b, err := json.Marshal(rep)
	if err != nil {
		return nil, err
	}
	if _, err := fmt.Fprintf(out, "%s\n", b); err != nil {
		return nil, err
	}
	return rep, nil
}

// one starts a server of kind, runs the scenario against it, and stops it.
func (r *runner) one(ctx context.Context, kind string) (map[string]any, error) {
	ctx, cancel := context.WithTimeout(ctx, r.cfg.Timeout)
	defer cancel()
	t, err := r.start(ctx, kind)
	if err != nil {
		return nil, err
	}
	fig, err := scenarios[r.cfg.Scenario](ctx, r, t)
	perr := r.waitProfiles()
	cctx, ccancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer ccancel()
	// A server that fails to stop cleanly is worth knowing, not fatal: its
	// figures stand (the report carries the error).
	cerr := t.close(cctx)
	if err != nil {
		return nil, err
	}
	m, err := toMap(fig)
	if err != nil {
		return nil, err
	}
	if cerr != nil {
		m["close_error"] = cerr.Error()
	}
	if t.inProcess() {
		m["in_process"] = true
	}
	if perr != nil {
		m["profile_error"] = perr.Error()
	}
	return m, nil
}

func (r *runner) start(ctx context.Context, kind string) (target, error) {
	o := serverOptions{SendQueueBytes: relayQueueBytes(r.cfg), MaxPeers: max(r.cfg.Group, 2), Metrics: r.metrics}
	url := strings.HasPrefix(r.cfg.Target, "ws://")
	switch {
	case kind == kindShipped:
		return spawnShipped(ctx, r.cfg.Shipped, r.secret)
	case url && kind == kindServer:
		return &remote{u: r.cfg.Target, pid: r.cfg.PID}, nil
	case r.cfg.Target == TargetInProcess, url && len(r.cfg.Command) == 0:
		return startInProcess(kind, r.secret, o)
	case r.cfg.Target == TargetSpawn, url:
		// Exact heap profiles for idle's bytes per connection; elsewhere
		// they would swamp the CPU profile.
		exactHeap := r.cfg.Profile != "" && r.cfg.Scenario == "idle"
		return spawn(ctx, r.cfg.Command, kind, r.secret, o, r.cfg.ServerProcs, exactHeap)
	}
	return nil, fmt.Errorf("bench: target %q is not spawn, inprocess or a ws:// URL", r.cfg.Target)
}

// measuring is called by a scenario when its measured phase starts: with
// Config.Profile, a CPU profile of a spawned server starts.
func (r *runner) measuring(ctx context.Context, t target, seconds int) {
	r.measuringAs(ctx, t, seconds, "cpu.pprof")
}

// measuringAs is measuring with the profile saved as name.
func (r *runner) measuringAs(ctx context.Context, t target, seconds int, name string) {
	if r.cfg.Profile == "" || t.inProcess() || t.kind() == kindShipped {
		return
	}
	done := make(chan error, 1)
	r.profiles = append(r.profiles, done)
	path := r.profilePath(t, name)
	go func() { done <- t.profile(ctx, "profile", fmt.Sprintf("seconds=%d", seconds), path) }()
}

// peak is called by a scenario at its peak load: with Config.Profile, the
// heap, allocation and goroutine profiles of a spawned server are saved.
func (r *runner) peak(ctx context.Context, t target) error {
	if r.cfg.Profile == "" || t.inProcess() || t.kind() == kindShipped {
		return nil
	}
	return errors.Join(
		t.profile(ctx, "heap", "", r.profilePath(t, "heap.pprof")),
		t.profile(ctx, "allocs", "", r.profilePath(t, "allocs.pprof")),
		t.profile(ctx, "goroutine", "debug=1", r.profilePath(t, "goroutine.txt")),
	)
}

func (r *runner) waitProfiles() error {
	var errs []error
	for _, p := range r.profiles {
		errs = append(errs, <-p)
	}
	r.profiles = nil
	return errors.Join(errs...)
}

func (r *runner) profilePath(t target, name string) string {
	return filepath.Join(r.cfg.Profile, r.cfg.Scenario+"-"+t.kind()+"-"+name)
}

// shipped reports whether the run measures serve as shipped too.
func (r *runner) shipped() bool {
	sc := r.cfg.Scenario
	return len(r.cfg.Shipped) > 0 && r.cfg.Target == TargetSpawn && (sc == "idle" || sc == "relay")
}

func (r *runner) params() map[string]any {
	c := r.cfg
	p := map[string]any{"server_procs": c.ServerProcs, "timeout_s": c.Timeout.Seconds()}
	if c.FloorFirst {
		p["floor_first"] = true
	}
	switch c.Scenario {
	case "idle":
		p["n"], p["concurrency"], p["sources"] = c.N, c.Concurrency, c.Sources
	case "storm":
		p["n"], p["concurrency"], p["group"], p["rate"], p["sources"] = c.N, c.Concurrency, c.Group, c.Rate, c.Sources
	case "relay", "hop":
		p["pairs"], p["messages"], p["size"], p["window"], p["rate"] = c.Pairs, c.Messages, c.Size, c.Window, c.Rate
		p["everyday"] = c.Everyday
	case "media":
		p["viewers"], p["bitrates_kbps"], p["fps"], p["max_viewers"], p["trials"], p["window_s"] = c.N, c.Bitrates, c.FPS, c.MaxViewers, c.Trials, c.MediaWindow.Seconds()
		p["forward"] = c.Forward
	case "webrtc":
		p["n"], p["concurrency"] = c.N, c.Concurrency
		if c.TURN {
			p["turn"], p["turn_mb"] = true, c.TURNMB
		}
	}
	return p
}

// toMap turns a figures struct into its JSON object.
func toMap(v any) (map[string]any, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	return m, json.Unmarshal(b, &m)
}

// ratios divides every number in a by the same number in b, flattening
// nested objects into dotted keys.
func ratios(a, b map[string]any) map[string]float64 {
	fa, fb := map[string]float64{}, map[string]float64{}
	flatten("", a, fa)
	flatten("", b, fb)
	out := map[string]float64{}
	keys := make([]string, 0, len(fa))
	for k := range fa {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if d, ok := fb[k]; ok && d != 0 && !strings.HasSuffix(k, ".n") && k != "n" {
			out[k] = round(fa[k] / d)
		}
	}
	return out
}

func flatten(prefix string, m map[string]any, out map[string]float64) {
	for k, v := range m {
		switch v := v.(type) {
		case float64:
			out[prefix+k] = v
		case map[string]any:
			flatten(prefix+k+".", v, out)
		}
	}
}

// loadAvg returns the 1-minute load average, or 0 when unknown.
func loadAvg() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f, _ := strconv.ParseFloat(strings.Fields(string(b) + " 0")[0], 64)
	return f
}
