package p2predis_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/p2predis"
)

// TestRedisRestart kills redis-server under a Store and two Brokers and
// starts it again on the same port: calls fail while it is down (with errors
// that are not the Store's sentinels, so the server answers "unavailable"),
// and afterwards the old subscriptions deliver again without anyone
// subscribing anew, and the Store works (on an empty Redis: sessions were
// not persisted, so their members get ErrNotMember and rejoin).
func TestRedisRestart(t *testing.T) {
	srv, rdb := newRedis(t)
	st := p2predis.NewStore(rdb, nil)
	a, b := newBroker(t, rdb), newBroker(t, rdb)
	ctx := context.Background()
	o := p2pstreams.JoinOptions{Lease: time.Minute, Expires: time.Now().Add(time.Minute)}
	if _, err := st.Join(ctx, "room", "alice", o); err != nil {
		t.Fatal(err)
	}
	in := make(chan string, 16)
	if _, err := a.Subscribe(ctx, "topic", func(m []byte) { in <- string(m) }); err != nil {
		t.Fatal(err)
	}

	srv.Stop()
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := st.Join(short, "room", "bob", o); err == nil || isSentinel(err) {
		t.Fatalf("Join with Redis down = %v, want a plain error", err)
	}
	if _, err := b.Publish(short, "topic", []byte("lost")); err == nil {
		t.Fatal("Publish with Redis down succeeded")
	}
	if _, err := b.Subscribe(short, "other", func([]byte) {}); err == nil {
		t.Fatal("Subscribe with Redis down succeeded")
	}

	srv.Restart(t)
	// The subscriber's node redials and subscribes again by itself.
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, err := b.Publish(ctx, "topic", []byte("back"))
		if err == nil && n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no receiver 15s after Redis came back: n=%d err=%v", n, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	select {
	case m := <-in:
		if m != "back" {
			t.Fatalf("received %q, want %q", m, "back")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the resubscribed topic delivered nothing")
	}
	// Redis kept nothing: alice is no member any more, and a join elects anew.
	if err := st.Refresh(ctx, "room", "alice", time.Minute); !errors.Is(err, p2pstreams.ErrNotMember) {
		t.Fatalf("Refresh after the restart = %v, want ErrNotMember", err)
	}
	if h, err := st.Join(ctx, "room", "bob", o); err != nil || h != "bob" {
		t.Fatalf("Join after the restart = %q, %v; want bob as host", h, err)
	}
	if _, err := b.Subscribe(ctx, "other", func([]byte) {}); err != nil {
		t.Fatalf("Subscribe after the restart: %v", err)
	}
}

func isSentinel(err error) bool {
	return errors.Is(err, p2pstreams.ErrNotMember) || errors.Is(err, p2pstreams.ErrPeerConnected) || errors.Is(err, p2pstreams.ErrSessionFull)
}
