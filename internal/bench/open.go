package bench

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// joinTimeout bounds one connection's connect and join.
const joinTimeout = 30 * time.Second

// opened is what openAll did.
type opened struct {
	conns    []*conn // index i holds connection i, nil if it failed
	connect  []time.Duration
	join     []time.Duration
	total    []time.Duration
	failures map[string]int
	failed   int
	elapsed  time.Duration
}

// member names connection i's session and peer.
type member func(i int) (protocol.SessionID, protocol.PeerID)

// openAll opens n connections with at most concurrency in flight and, when
// rate > 0, starts at most rate of them per second; each joins the session
// that who names. Connections stay open (the caller closes them with
// closeAll) and are not read after their join.
func openAll(ctx context.Context, r *runner, d *dialer, n, concurrency int, rate float64, who member) (*opened, error) {
	toks := make([]string, n)
	exp := time.Now().Add(time.Hour).Unix()
	for i := range toks {
		s, p := who(i)
		tok, err := token.Issue(r.secret, token.Claims{Session: s, Peer: p, Expires: exp})
		if err != nil {
			return nil, err
		}
		toks[i] = tok
	}
	o := &opened{
		conns: make([]*conn, n), connect: make([]time.Duration, n), join: make([]time.Duration, n),
		total: make([]time.Duration, n), failures: map[string]int{},
	}
	ok := make([]bool, n)
	var mu sync.Mutex
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(concurrency, n); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				_, p := who(i)
				c, tc, tj, err := openOne(ctx, d, i, toks[i], string(p))
				if err != nil {
					mu.Lock()
					o.failures[reason(err)]++
					mu.Unlock()
					continue
				}
				o.conns[i], o.connect[i], o.join[i], o.total[i], ok[i] = c, tc, tj, tc+tj, true
			}
		}()
	}
	start := time.Now()
feed:
	for i := 0; i < n; i++ {
		if rate > 0 {
			due := start.Add(time.Duration(float64(i) / rate * float64(time.Second)))
			if wait := time.Until(due); wait > 0 {
				t := time.NewTimer(wait)
				select {
				case <-t.C:
				case <-ctx.Done():
					t.Stop()
					break feed
				}
			}
		}
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	o.elapsed = time.Since(start)
	// Keep only the successful connections' latencies.
	k := 0
	for i := range ok {
		if ok[i] {
			o.connect[k], o.join[k], o.total[k] = o.connect[i], o.join[i], o.total[i]
			k++
		}
	}
	o.connect, o.join, o.total = o.connect[:k], o.join[:k], o.total[:k]
	o.failed = n - k
	return o, nil
}

// openOne dials connection i and joins with tok; it returns the connect
// (TCP + WebSocket handshake) and join (SessionJoin to SessionReady) times.
func openOne(ctx context.Context, d *dialer, i int, tok, peer string) (*conn, time.Duration, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, joinTimeout)
	defer cancel()
	t0 := time.Now()
	c, err := d.dial(ctx, i)
	if err != nil {
		return nil, 0, 0, fmt.Errorf("dial: %w", err)
	}
	t1 := time.Now()
	deadline, _ := ctx.Deadline()
	if _, err := c.join(tok, peer, deadline); err != nil {
		c.close()
		return nil, 0, 0, fmt.Errorf("join: %w", err)
	}
	return c, t1.Sub(t0), time.Since(t1), nil
}

func (o *opened) closeAll() {
	for i, c := range o.conns {
		if c != nil {
			c.close()
			o.conns[i] = nil
		}
	}
}

// reason turns an error into a short failure category.
func reason(err error) string {
	if c := protocol.CodeOf(err); c != "" {
		return string(c)
	}
	s := err.Error()
	for _, k := range []string{"connection refused", "connection reset", "timeout", "deadline exceeded",
		"too many open files", "cannot assign requested address", "EOF"} {
		if strings.Contains(s, k) {
			return strings.SplitN(s, ":", 2)[0] + ": " + k
		}
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}

// topFailures keeps the 8 most frequent failure reasons.
func topFailures(m map[string]int) map[string]int {
	if len(m) <= 8 {
		return m
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] })
	out := map[string]int{}
	for _, k := range keys[:8] {
		out[k] = m[k]
	}
	return out
}

func sessionID(prefix string, i int) protocol.SessionID {
	return protocol.SessionID(prefix + "-" + strconv.Itoa(i))
}

func peerID(s string) protocol.PeerID { return protocol.PeerID(s) }
