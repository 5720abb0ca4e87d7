package peer_test

import (
	"context"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/peer"
)

// TestJoinLatency logs how long a Go client's Join takes, from the call to
// its DataChannel to a Go host being open (the benchmark's "join to
// DataChannel open"): one client at a time, then many at once. It asserts
// only that they all connect; the figures are for people (go test -v).
func TestJoinLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e := newEnv(t)
	e.join(peer.Config{URL: e.url, Token: e.token("bench", "host", nil), API: loopback})
	const n = 30
	lat := make([]time.Duration, 0, n)
	for i := range n {
		cfg := peer.Config{URL: e.url, Token: e.token("bench", fmt.Sprintf("c%d", i), nil), API: loopback}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		start := time.Now()
		p, err := peer.Join(ctx, cfg)
		lat = append(lat, time.Since(start))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		closePeer(t, p)
	}
	slices.Sort(lat)
	t.Logf("join to open, %d sequential Go clients: p50 %v p90 %v max %v", n, lat[n/2], lat[n*9/10], lat[n-1])

	// Many at once.
	const m = 40
	g0 := runtime.NumGoroutine()
	var wg sync.WaitGroup
	var mu sync.Mutex
	lat = lat[:0]
	peers := make([]*peer.Peer, m)
	start := time.Now()
	for i := range m {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg := peer.Config{URL: e.url, Token: e.token("bench", fmt.Sprintf("m%d", i), nil), API: loopback}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			s := time.Now()
			p, err := peer.Join(ctx, cfg)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			lat = append(lat, time.Since(s))
			mu.Unlock()
			peers[i] = p
		}()
	}
	wg.Wait()
	all := time.Since(start)
	t.Logf("goroutines per connected client, both ends (pion's included): %.1f", float64(runtime.NumGoroutine()-g0)/m)
	slices.Sort(lat)
	if len(lat) > 0 {
		t.Logf("join to open, %d Go clients at once: all in %v, p50 %v p90 %v max %v", m, all, lat[len(lat)/2], lat[len(lat)*9/10], lat[len(lat)-1])
	}
	for _, p := range peers {
		if p != nil {
			closePeer(t, p)
		}
	}
}
