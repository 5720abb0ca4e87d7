package p2predis_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/p2predis"
	"github.com/p2pstreams/p2pstreams/storetest"
	"github.com/redis/go-redis/v9"
)

// newRedis starts a redis-server for t and returns a client of it.
func newRedis(t testing.TB) (*testenv.Process, *redis.Client) {
	t.Helper()
	srv := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { rdb.Close() })
	return srv, rdb
}

func TestStoreContract(t *testing.T) {
	_, rdb := newRedis(t)
	storetest.Run(t, func(*testing.T) p2pstreams.Store { return p2predis.NewStore(rdb, nil) })
}

// TestStoreLeavesNothing checks what the contract cannot see: an expired
// session and a reset one leave no key behind.
func TestStoreLeavesNothing(t *testing.T) {
	_, rdb := newRedis(t)
	ctx := context.Background()
	st := p2predis.NewStore(rdb, &p2predis.Options{Prefix: "t:"})
	end := time.Now().Add(50 * time.Millisecond)
	o := p2pstreams.JoinOptions{Lease: time.Minute, Expires: end}
	for _, p := range []p2pstreams.PeerID{"alice", "bob"} {
		if _, err := st.Join(ctx, "expiring", p, o); err != nil {
			t.Fatal(err)
		}
	}
	o.Expires = time.Now().Add(time.Minute)
	for _, p := range []p2pstreams.PeerID{"alice", "bob"} {
		if _, err := st.Join(ctx, "reset", p, o); err != nil {
			t.Fatal(err)
		}
	}
	// The keys expire with the last membership (gone already when the
	// machine was slow: PTTL says -2 then, and -1 for a key without TTL).
	if ttl := rdb.PTTL(ctx, "t:{expiring}:h").Val(); ttl == -1 || ttl > 50*time.Millisecond {
		t.Fatalf("host key TTL %v, want the session's expiry, at most 50ms", ttl)
	}
	if _, err := st.Leave(ctx, "reset", "alice", false); err != nil {
		t.Fatal(err)
	}
	// Redis expires keys by itself (no script runs here): poll for it.
	deadline := time.Now().Add(5 * time.Second)
	for {
		keys, err := rdb.Keys(ctx, "t:*").Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("keys left behind: %q", keys)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestBrokerContract(t *testing.T) {
	_, rdb := newRedis(t)
	storetest.RunBroker(t, func(t *testing.T) (a, b p2pstreams.Broker) {
		return newBroker(t, rdb), newBroker(t, rdb)
	})
}

func newBroker(t testing.TB, rdb redis.UniversalClient) *p2predis.Broker {
	b := p2predis.NewBroker(rdb, nil)
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b
}

// TestRefreshBatchLoadsScript: a Redis that lost its scripts (a restart, a
// SCRIPT FLUSH) still renews a whole batch, more members than one pipeline
// holds, and says which members are gone.
func TestRefreshBatchLoadsScript(t *testing.T) {
	_, rdb := newRedis(t)
	ctx := context.Background()
	st := p2predis.NewStore(rdb, nil)
	o := p2pstreams.JoinOptions{Lease: time.Minute, Expires: time.Now().Add(time.Hour)}
	var ms []p2pstreams.Member
	for i := range 2500 {
		m := p2pstreams.Member{Session: p2pstreams.SessionID(fmt.Sprint("batch-", i)), Peer: "p"}
		if i%1000 != 7 { // every thousandth (from the 8th) never joined
			if _, err := st.Join(ctx, m.Session, m.Peer, o); err != nil {
				t.Fatal(err)
			}
		}
		ms = append(ms, m)
	}
	if err := rdb.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	errs := st.RefreshBatch(ctx, ms, time.Minute)
	for i, err := range errs {
		want := error(nil)
		if i%1000 == 7 {
			want = p2pstreams.ErrNotMember
		}
		if !errors.Is(err, want) {
			t.Fatalf("member %d: %v, want %v", i, err, want)
		}
	}
}
