package main

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
)

// asCLI makes the test binary run as the p2pstreams command (TestMain).
const asCLI = "P2PSTREAMS_TEST_AS_CLI"

// TestBenchShipped runs `bench idle` and `bench relay` tiny, with `serve` as
// shipped measured beside the bench's own server and the floor: the test
// binary stands in for the command, so `serve` is the real one. It checks
// the shape of the figures, never a timing.
func TestBenchShipped(t *testing.T) {
	t.Setenv(asCLI, "1")
	for _, args := range [][]string{
		{"bench", "idle", "-n", "20", "-concurrency", "4"},
		{"bench", "relay", "-pairs", "2", "-messages", "200", "-window", "8", "-rate", "1000", "-everyday", "300,400"},
	} {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), args, &out, &errOut); err != nil {
			t.Fatalf("%v: %v\n%s", args, err, errOut.String())
		}
		var rep struct {
			Shipped, Server, Floor map[string]any
			RatioShipped           map[string]float64 `json:"ratio_shipped"`
		}
		if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
			t.Fatalf("%v: %v: %s", args, err, out.String())
		}
		if rep.Shipped == nil || rep.Server == nil || rep.Floor == nil || len(rep.RatioShipped) == 0 {
			t.Fatalf("%v: want shipped, server, floor and ratios: %s", args, out.String())
		}
		switch args[1] {
		case "idle":
			if rep.Shipped["connections"] != 20.0 || rep.Shipped["rss_per_conn"] == nil {
				t.Errorf("shipped idle: %v", rep.Shipped)
			}
			if rep.Server["rss_per_conn_no_gc"] == nil {
				t.Errorf("server idle without a forced GC not measured: %v", rep.Server)
			}
		case "relay":
			for name, fig := range map[string]map[string]any{"shipped": rep.Shipped, "server": rep.Server, "floor": rep.Floor} {
				phases, _ := fig["everyday"].([]any)
				if len(phases) != 2 {
					t.Fatalf("%s: everyday phases %v", name, fig["everyday"])
				}
				for _, ph := range phases {
					ph := ph.(map[string]any)
					if ph["lost"] != 0.0 || ph["errors"] != 0.0 || ph["received"].(float64) < 100 {
						t.Errorf("%s everyday: %v", name, ph)
					}
				}
			}
			if _, ok := rep.Shipped["max"].(map[string]any)["received"]; ok && rep.Shipped["max"].(map[string]any)["received"] != 0.0 {
				t.Errorf("shipped ran the saturation phase, which its rate limit refuses: %v", rep.Shipped["max"])
			}
		}
	}
}

// TestBenchWebRTCPhases runs `bench webrtc` tiny: the server's and the
// floor's join-to-open split into phases, each with every session.
func TestBenchWebRTCPhases(t *testing.T) {
	t.Setenv(asCLI, "1")
	args := []string{"bench", "webrtc", "-n", "3", "-concurrency", "1"}
	var out, errOut bytes.Buffer
	if err := run(context.Background(), args, &out, &errOut); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, errOut.String())
	}
	var rep struct {
		Server, Floor struct {
			Opened int
			Phases map[string]struct{ N int }
		}
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v: %s", err, out.String())
	}
	for name, fig := range map[string]int{"server": rep.Server.Opened, "floor": rep.Floor.Opened} {
		if fig != 3 {
			t.Errorf("%s: %d of 3 sessions opened: %s", name, fig, out.String())
		}
	}
	for _, ph := range []string{"connect", "host_notified", "offer_routed", "answer_routed", "ice", "dtls", "sctp", "open"} {
		if rep.Server.Phases[ph].N != 3 || rep.Floor.Phases[ph].N != 3 {
			t.Errorf("phase %s: server %d, floor %d of 3 sessions: %s", ph, rep.Server.Phases[ph].N, rep.Floor.Phases[ph].N, out.String())
		}
	}
}
