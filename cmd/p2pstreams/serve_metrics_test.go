package main

import (
	"net/http"
	"strconv"
	"strings"
	"testing"

	"github.com/p2pstreams/p2pstreams/internal/testenv"
)

// /metrics is on by default at --addr; --metrics-addr moves it to its own
// listener; --metrics=false turns it off.
func TestServeMetricsEndpoints(t *testing.T) {
	base, _ := serve(t, "--secret", testSecret)
	body, _ := get(t, base+"metrics")
	for _, want := range []string{"p2pstreams_connections ", "p2pstreams_joins_total ", "go_goroutines ", "process_resident_memory_bytes "} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	addr := "127.0.0.1:" + strconv.Itoa(testenv.FreePort(t))
	base, _ = serve(t, "--secret", testSecret, "--metrics-addr", addr)
	if body, _ := get(t, "http://"+addr+"/metrics"); !strings.Contains(body, "p2pstreams_connections ") {
		t.Errorf("--metrics-addr serves no p2pstreams metrics")
	}
	waitStatus(t, base+"metrics", http.StatusNotFound)

	base, _ = serve(t, "--secret", testSecret, "--turn-addr", "127.0.0.1:0")
	if body, _ := get(t, base+"metrics"); !strings.Contains(body, "p2pstreams_turn_allocations 0") {
		t.Errorf("with the embedded TURN server, /metrics lacks p2pstreams_turn_allocations")
	}

	t.Setenv("P2PSTREAMS_METRICS", "false")
	base, _ = serve(t, "--secret", testSecret)
	waitStatus(t, base+"metrics", http.StatusNotFound)
}
