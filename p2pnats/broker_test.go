package p2pnats_test

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/p2pnats"
	"github.com/p2pstreams/p2pstreams/storetest"
)

// newBroker connects to srv and returns a Broker on that connection: one
// node of a deployment.
func newBroker(t *testing.T, srv *testenv.Process) *p2pnats.Broker {
	t.Helper()
	nc, err := nats.Connect("nats://"+srv.Addr, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	b, err := p2pnats.NewBroker(nc, nil)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		b.Close()
		nc.Close()
	})
	return b
}

func TestBrokerContract(t *testing.T) {
	srv := testenv.NATS(t)
	storetest.RunBroker(t, func(t *testing.T) (a, b p2pstreams.Broker) {
		return newBroker(t, srv), newBroker(t, srv)
	})
}

// TestNATSRestart kills nats-server and starts it again on the same port:
// the subscriber's connection comes back and subscribes its topic again.
func TestNATSRestart(t *testing.T) {
	srv := testenv.NATS(t)
	a, b := newBroker(t, srv), newBroker(t, srv)
	ctx := context.Background()
	in := make(chan string, 16)
	if _, err := a.Subscribe(ctx, "s\x00p", func(m []byte) { in <- string(m) }); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	if _, err := b.Publish(short, "s\x00p", []byte("lost")); err == nil {
		t.Fatal("Publish with NATS down succeeded")
	}
	srv.Restart(t)
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, cancel := context.WithTimeout(ctx, time.Second)
		n, err := b.Publish(c, "s\x00p", []byte("back"))
		cancel()
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no receiver 15s after NATS came back: n=%d err=%v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for m := range in {
		if m == "back" {
			break
		}
		if m != "lost" { // buffered while down, it may arrive after all
			t.Fatalf("received %q", m)
		}
	}
}
