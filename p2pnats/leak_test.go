package p2pnats_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/p2pnats"
)

// A Broker leaves no goroutine behind once closed, with its connection.
func TestBrokerCloseLeavesNothing(t *testing.T) {
	srv := testenv.NATS(t)
	base := runtime.NumGoroutine()
	nc, err := nats.Connect("nats://" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	b, err := p2pnats.NewBroker(nc, nil)
	if err != nil {
		t.Fatal(err)
	}
	unsub, err := b.Subscribe(context.Background(), "t", func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := b.Publish(context.Background(), "t", []byte("x")); err != nil || n != 1 {
		t.Fatalf("Publish = %d, %v", n, err)
	}
	unsub()
	if _, err := b.Subscribe(context.Background(), "u", func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	b.Close()
	if _, err := b.Subscribe(context.Background(), "v", func([]byte) {}); err == nil {
		t.Fatal("Subscribe after Close succeeded")
	}
	if _, err := b.Publish(context.Background(), "u", nil); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
	nc.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left:\n%s", runtime.NumGoroutine()-base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
