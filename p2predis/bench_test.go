package p2predis_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/p2predis"
	"github.com/redis/go-redis/v9"
)

// BenchmarkBrokerHop measures one 256-byte message from a publisher on one
// node to a subscriber on another, one at a time: the latency that a Redis
// hop adds to a routed message. It reports p50 and p99.
//
//	go test -run '^$' -bench BrokerHop ./redis
func BenchmarkBrokerHop(b *testing.B) {
	_, rdb := newRedis(b)
	a, c := newBroker(b, rdb), newBroker(b, rdb)
	got := make(chan struct{}, 1)
	ctx := context.Background()
	if _, err := a.Subscribe(ctx, "hop", func([]byte) { got <- struct{}{} }); err != nil {
		b.Fatal(err)
	}
	msg := make([]byte, 256)
	var lat []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := c.Publish(ctx, "hop", msg); err != nil {
			b.Fatal(err)
		}
		<-got
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkStoreJoinLeave measures a Join and a Leave (two scripts).
func BenchmarkStoreJoinLeave(b *testing.B) {
	_, rdb := newRedis(b)
	st := p2predis.NewStore(rdb, nil)
	ctx := context.Background()
	o := p2pstreams.JoinOptions{Lease: time.Minute, Expires: time.Now().Add(time.Hour), MaxPeers: 128}
	for i := 0; b.Loop(); i++ {
		s := p2pstreams.SessionID(fmt.Sprint("s", i%1000))
		if _, err := st.Join(ctx, s, "p", o); err != nil {
			b.Fatal(err)
		}
		if _, err := st.Leave(ctx, s, "p", true); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreRefused measures the refusal check that every join makes
// first (Refusals.Refused: one script).
func BenchmarkStoreRefused(b *testing.B) {
	_, rdb := newRedis(b)
	st := p2predis.NewStore(rdb, nil)
	ctx := context.Background()
	if err := st.Refuse(ctx, "s0", "removed", time.Hour); err != nil {
		b.Fatal(err)
	}
	for i := 0; b.Loop(); i++ {
		if _, _, err := st.Refused(ctx, p2pstreams.SessionID(fmt.Sprint("s", i%1000)), "p"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkStoreRefresh measures one Refresh, the call every node makes for
// each connected peer every Lease/3.
func BenchmarkStoreRefresh(b *testing.B) {
	_, rdb := newRedis(b)
	st := p2predis.NewStore(rdb, nil)
	ctx := context.Background()
	o := p2pstreams.JoinOptions{Lease: time.Minute, Expires: time.Now().Add(time.Hour)}
	if _, err := st.Join(ctx, "s", "p", o); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if err := st.Refresh(ctx, "s", "p", time.Minute); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRefreshRound measures one lease-renewal round of a node with
// 20k connected peers: Refresh one at a time (as the server did before
// BatchRefresher) against RefreshBatch (pipelined). One op is one round.
//
//	go test -run '^$' -bench RefreshRound -benchtime 5x ./redis
func BenchmarkRefreshRound(b *testing.B) {
	const n = 20000
	_, rdb := newRedis(b)
	st := p2predis.NewStore(rdb, nil)
	ctx := context.Background()
	o := p2pstreams.JoinOptions{Lease: time.Minute, Expires: time.Now().Add(time.Hour)}
	mem0 := redisInfo(b, rdb, "memory", "used_memory")
	ms := make([]p2pstreams.Member, n)
	for i := range ms {
		ms[i] = p2pstreams.Member{Session: p2pstreams.SessionID(fmt.Sprint("round-", i/2)), Peer: p2pstreams.PeerID(fmt.Sprint("p", i%2))}
		if _, err := st.Join(ctx, ms[i].Session, ms[i].Peer, o); err != nil {
			b.Fatal(err)
		}
	}
	memPerMember := (redisInfo(b, rdb, "memory", "used_memory") - mem0) / n
	report := func(b *testing.B, cpu0 float64) {
		b.ReportMetric(memPerMember, "redis-bytes/member")
		per := float64(b.N) * n
		b.ReportMetric(float64(b.Elapsed().Microseconds())/per, "µs/lease")
		b.ReportMetric((redisCPU(b, rdb)-cpu0)*1e6/per, "redis-cpu-µs/lease")
	}
	b.Run("one-by-one", func(b *testing.B) {
		cpu0 := redisCPU(b, rdb)
		for b.Loop() {
			for _, m := range ms {
				if err := st.Refresh(ctx, m.Session, m.Peer, time.Minute); err != nil {
					b.Fatal(err)
				}
			}
		}
		report(b, cpu0)
	})
	b.Run("batch", func(b *testing.B) {
		cpu0 := redisCPU(b, rdb)
		for b.Loop() {
			for i, err := range st.RefreshBatch(ctx, ms, time.Minute) {
				if err != nil {
					b.Fatal(i, err)
				}
			}
		}
		report(b, cpu0)
	})
}

// BenchmarkSubscriptions measures what a node's peers cost in Redis pub/sub:
// 20k peer topics subscribed through one Broker (one per connected peer, as
// the server subscribes), Redis memory per subscription; one op is one
// message published to one of them and delivered.
//
//	go test -run '^$' -bench Subscriptions ./redis
func BenchmarkSubscriptions(b *testing.B) {
	const n = 20000
	_, rdb := newRedis(b)
	br := newBroker(b, rdb)
	ctx := context.Background()
	mem0 := redisInfo(b, rdb, "memory", "used_memory")
	got := make(chan struct{}, 1)
	for i := range n {
		topic := p2pstreams.PeerTopic(p2pstreams.SessionID(fmt.Sprint("sub-", i)), "p")
		if _, err := br.Subscribe(ctx, topic, func([]byte) { got <- struct{}{} }); err != nil {
			b.Fatal(err)
		}
	}
	perSub := (redisInfo(b, rdb, "memory", "used_memory") - mem0) / n
	msg := make([]byte, 256)
	for i := 0; b.Loop(); i++ {
		topic := p2pstreams.PeerTopic(p2pstreams.SessionID(fmt.Sprint("sub-", i%n)), "p")
		if _, err := br.Publish(ctx, topic, msg); err != nil {
			b.Fatal(err)
		}
		<-got
	}
	b.ReportMetric(perSub, "redis-bytes/subscription")
}

// redisCPU is the CPU seconds (user + system) the Redis server has used.
func redisCPU(b *testing.B, rdb *redis.Client) float64 {
	return redisInfo(b, rdb, "cpu", "used_cpu_sys") + redisInfo(b, rdb, "cpu", "used_cpu_user")
}

// redisInfo reads one number from INFO section.
func redisInfo(b *testing.B, rdb *redis.Client, section, key string) float64 {
	info, err := rdb.Info(context.Background(), section).Result()
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		if k == key {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				b.Fatalf("INFO %s: %s=%q", section, k, v)
			}
			return f
		}
	}
	b.Fatalf("INFO %s: no %s", section, key)
	return 0
}
