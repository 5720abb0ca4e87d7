package p2predis_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	p2predis "github.com/p2pstreams/p2pstreams/redis"
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
