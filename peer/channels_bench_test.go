package peer_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/peer"
)

// TestChannelLatency logs the round trip of a Go client's small message
// through a Go host and back to itself (the relay gives the sender its own
// message too), on the default channel and on a reliable and a lossy
// named channel, one message at a time. It asserts only that every message
// comes back (on loopback the lossy one loses none in practice, and a lost
// one fails the test after its deadline); the figures are for people
// (go test -v -run ChannelLatency ./peer).
func TestChannelLatency(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	e := newEnv(t)
	host := e.join(peer.Config{URL: e.url, Token: e.token("lat", "host", nil), API: loopback})
	back := make(chan peer.Message, 16)
	c := e.join(peer.Config{URL: e.url, Token: e.token("lat", "c", nil), API: loopback, OnMessage: func(m peer.Message) { back <- m }})
	reliable, lossy := peer.ChannelOptions{}, peer.ChannelOptions{Unordered: true, MaxRetransmits: new(0)}
	for _, o := range []struct {
		name string
		opts peer.ChannelOptions
	}{{"", reliable}, {"reliable", reliable}, {"lossy", lossy}} {
		send := func(ctx context.Context) error { return c.Send(ctx, "ping") }
		if o.name != "" {
			if _, err := host.OpenChannel(o.name, o.opts); err != nil {
				t.Fatal(err)
			}
			ch, err := c.OpenChannel(o.name, o.opts)
			if err != nil {
				t.Fatal(err)
			}
			send = func(ctx context.Context) error { return ch.Send(ctx, "ping") }
		}
		const n = 200
		lat := make([]time.Duration, 0, n)
		for range n {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			start := time.Now()
			if err := send(ctx); err != nil {
				t.Fatal(err)
			}
			select {
			case m := <-back:
				if m.Channel != o.name || m.From != "c" {
					t.Fatalf("got %+v on %q, want c's on %q", m, m.Channel, o.name)
				}
			case <-ctx.Done():
				t.Fatalf("channel %q: no message back within 10 s", o.name)
			}
			lat = append(lat, time.Since(start))
			cancel()
		}
		slices.Sort(lat)
		name := o.name
		if name == "" {
			name = "default"
		}
		t.Logf("round trip client -> host -> client, %s channel, %d messages: p50 %v p90 %v max %v", name, n, lat[n/2], lat[n*9/10], lat[n-1])
	}
}
