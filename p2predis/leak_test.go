package p2predis_test

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/p2predis"
)

// A Broker leaves no goroutine behind once closed, subscribed or not.
func TestBrokerCloseLeavesNothing(t *testing.T) {
	srv := testenv.Redis(t)
	base := runtime.NumGoroutine()
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	b := p2predis.NewBroker(rdb, nil)
	unsub, err := b.Subscribe(context.Background(), "t", func([]byte) {})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Publish(context.Background(), "t", []byte("x")); err != nil {
		t.Fatal(err)
	}
	unsub()
	if _, err := b.Subscribe(context.Background(), "u", func([]byte) {}); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Subscribe(context.Background(), "v", func([]byte) {}); err == nil {
		t.Fatal("Subscribe after Close succeeded")
	}
	if _, err := b.Publish(context.Background(), "u", nil); err == nil {
		t.Fatal("Publish after Close succeeded")
	}
	rdb.Close()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines left:\n%s", runtime.NumGoroutine()-base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}
