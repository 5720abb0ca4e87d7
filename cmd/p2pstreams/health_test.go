package main

import (
	"net/http"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/internal/testenv"
)

// /readyz follows Redis: 200, then 503 while Redis is stopped, then 200
// again once it is back; /healthz answers throughout.
func TestServeHealthWithRedis(t *testing.T) {
	rs := testenv.Redis(t)
	base, _ := serve(t, "--secret", testSecret, "--redis", "redis://"+rs.Addr+"/0")
	waitStatus(t, base+"readyz", http.StatusOK)
	rs.Stop()
	waitStatus(t, base+"readyz", http.StatusServiceUnavailable)
	waitStatus(t, base+"healthz", http.StatusOK)
	rs.Restart(t)
	waitStatus(t, base+"readyz", http.StatusOK)
}

func TestServeHealthInMemory(t *testing.T) {
	base, stop := serve(t, "--secret", testSecret)
	waitStatus(t, base+"healthz", http.StatusOK)
	waitStatus(t, base+"readyz", http.StatusOK)
	stop()
}

// waitStatus polls url until it answers with status (at most 20 s).
func waitStatus(t *testing.T, url string, status int) {
	t.Helper()
	last := "no answer"
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			last = err.Error()
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == status {
			return
		}
		last = resp.Status
	}
	t.Fatalf("GET %s: %s, want %d", url, last, status)
}
