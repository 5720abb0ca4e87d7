package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// relayFigures are the relay scenario's results for one server.
type relayFigures struct {
	Pairs int        `json:"pairs"`
	Size  int        `json:"size"`
	Max   relayPhase `json:"max"`   // as fast as the window lets
	Paced relayPhase `json:"paced"` // at a fixed rate, for latency
	// Everyday are phases paced at the rates a signaling server sees
	// (Config.Everyday), for server CPU per message; the only phases run
	// against serve as shipped, whose per-connection rate limit refuses
	// the others by design.
	Everyday []relayPhase `json:"everyday,omitempty"`
}

// everydayPerConn is the most messages/s one connection sends in the
// everyday phases: half of serve's default rate limit (100/s).
const everydayPerConn = 50

// everydaySeconds is the length of one everyday phase.
const everydaySeconds = 5

// relayPhase is one phase of the relay scenario.
type relayPhase struct {
	Rate       float64 `json:"rate,omitempty"` // the paced rate asked for, messages/s
	Sent       int64   `json:"sent"`
	Received   int64   `json:"received"`
	Lost       int64   `json:"lost"`   // sent and never received (must be 0)
	Errors     int64   `json:"errors"` // Error messages from the server
	MsgsPerSec float64 `json:"msgs_per_sec"`
	// MsgsPerCPUSec is messages per second of the server process's CPU
	// time: the rate one fully used core would reach, whatever else runs.
	MsgsPerCPUSec float64 `json:"msgs_per_server_cpu_sec,omitempty"`
	// CPUPerMsg is the server process's CPU time per message, µs.
	CPUPerMsg float64 `json:"server_cpu_us_per_msg,omitempty"`
	Latency   Latency `json:"latency"` // one way, sender write to receiver read
}

// lane is one direction of one pair: messages written on from, read on the
// reader of the other connection. Its window bounds messages in flight, so
// that a saturated server queues a bounded number per connection.
type lane struct {
	from   *conn
	msg    []byte // the message as sent; t and k are stamped in place
	tAt    int    // offset of the 20 digits of t in msg
	kAt    int    // offset of the phase digit k in msg
	window chan struct{}

	errs atomic.Int64

	mu    sync.Mutex // guards the receiver's counts below
	phase int32      // the phase the receiver counts; 0: none
	recv  int64
	last  time.Duration // since epoch, of the last receipt
	lat   []time.Duration
	want  int64
	full  chan struct{} // closed when recv reaches want
}

// epoch is the time base of the stamps in relayed messages (same process,
// monotonic clock).
var epoch = time.Now()

func runRelay(ctx context.Context, r *runner, t target) (any, error) {
	cfg := r.cfg
	d, err := newDialer(t.url(), cfg.Sources)
	if err != nil {
		return nil, err
	}
	lanes, closeAll, err := relaySetup(ctx, r, d)
	if err != nil {
		return nil, err
	}
	defer closeAll()

	f := &relayFigures{Pairs: cfg.Pairs, Size: cfg.Size}
	for i, rate := range cfg.Everyday {
		n := min(cfg.Messages, int(rate*everydaySeconds))
		if i == 0 || rate == 2000 {
			// The CPU at an everyday rate (2000/s if measured, else the first).
			r.measuringAs(ctx, t, everydaySeconds-1, fmt.Sprintf("cpu-paced-%.0f.pprof", rate))
		}
		ph, err := relayPhaseRun(ctx, t, lanes, int32(3+i%7), n, rate, cfg.Timeout/3)
		if err != nil {
			return nil, fmt.Errorf("everyday %v/s: %w", rate, err)
		}
		f.Everyday = append(f.Everyday, ph)
	}
	if t.kind() == kindShipped {
		return f, nil
	}
	r.measuring(ctx, t, 5)
	f.Max, err = relayPhaseRun(ctx, t, lanes, 1, cfg.Messages, 0, cfg.Timeout/3)
	if err != nil {
		return nil, err
	}
	rate := cfg.Rate
	if rate <= 0 {
		if r.relayRate == 0 {
			r.relayRate = f.Max.MsgsPerSec / 2
		}
		rate = r.relayRate
	}
	if rate > 0 {
		// Bound the paced phase to about 10 s.
		n := min(cfg.Messages, int(rate*10)+len(lanes))
		f.Paced, err = relayPhaseRun(ctx, t, lanes, 2, n, rate, cfg.Timeout/3)
		if err != nil {
			return nil, err
		}
	}
	if err := r.peak(ctx, t); err != nil {
		return nil, fmt.Errorf("profiles: %w", err)
	}
	return f, nil
}

// relaySetup joins the pairs (session relay-i: host h, client c) and starts
// one reader per connection. closeAll closes them and waits for the readers.
func relaySetup(ctx context.Context, r *runner, d *dialer) ([]*lane, func(), error) {
	cfg := r.cfg
	var (
		conns []*conn
		lanes []*lane
		wg    sync.WaitGroup
	)
	closeAll := func() {
		for _, c := range conns {
			c.close()
		}
		wg.Wait()
	}
	o, err := openAll(ctx, r, d, 2*cfg.Pairs, 1, 0, func(i int) (protocol.SessionID, protocol.PeerID) {
		// Hosts first: connection 2i is pair i's host, 2i+1 its client.
		return protocol.SessionID("relay-" + strconv.Itoa(i/2)), [2]protocol.PeerID{"h", "c"}[i%2]
	})
	if err != nil {
		return nil, nil, err
	}
	for _, c := range o.conns {
		if c != nil {
			conns = append(conns, c)
		}
	}
	if o.failed > 0 {
		closeAll()
		return nil, nil, fmt.Errorf("relay: %d of %d connections failed to join: %v", o.failed, 2*cfg.Pairs, o.failures)
	}
	for i := 0; i < cfg.Pairs; i++ {
		h, c := o.conns[2*i], o.conns[2*i+1]
		toC, toH := newLane(h, "c", cfg.Size, cfg.Window), newLane(c, "h", cfg.Size, cfg.Window)
		lanes = append(lanes, toC, toH)
		wg.Add(2)
		go func() { defer wg.Done(); readLane(c, toC) }()
		go func() { defer wg.Done(); readLane(h, toH) }()
	}
	return lanes, closeAll, nil
}

// newLane builds the message template of a lane: exactly size bytes.
func newLane(from *conn, to string, size, window int) *lane {
	// t is a string: JSON numbers may not have leading zeros.
	head := `{"type":"Connection","state":"IceCandidate","to":"` + to + `","data":{"k":0,"t":"`
	l := &lane{from: from, window: make(chan struct{}, window)}
	l.kAt = len(head) - len(`0,"t":"`)
	l.tAt = len(head)
	msg := head + strings.Repeat("0", 20) + `","p":"`
	pad := size - len(msg) - len(`"}}`)
	l.msg = []byte(msg + strings.Repeat("x", max(pad, 0)) + `"}}`)
	for i := 0; i < window; i++ {
		l.window <- struct{}{}
	}
	return l
}

var tKey = []byte(`"k":`)

// tHead is what precedes the digits of t in a relayed message.
const tHead = `"k":0,"t":"`

// readLane reads c until it fails, counting messages of the lane's current
// phase and their one-way latency.
func readLane(c *conn, l *lane) {
	for {
		p, err := c.read()
		if err != nil {
			return
		}
		now := time.Since(epoch)
		i := bytes.Index(p, tKey)
		if i < 0 || len(p) < i+len(tHead)+20 {
			if bytes.Contains(p, []byte(`"state":"Error"`)) {
				l.errs.Add(1)
			}
			continue
		}
		k := int32(p[i+4] - '0')
		ts, err := strconv.ParseInt(string(p[i+len(tHead):i+len(tHead)+20]), 10, 64)
		if err != nil {
			continue
		}
		l.mu.Lock()
		if k == l.phase { // else a straggler from an earlier phase
			l.lat = append(l.lat, now-time.Duration(ts))
			l.last = now
			if l.recv++; l.recv == l.want {
				close(l.full)
			}
		}
		l.mu.Unlock()
		select {
		case l.window <- struct{}{}:
		default:
		}
	}
}

// relayPhaseRun sends n messages spread over the lanes, as fast as the
// windows allow (rate 0) or at rate messages/s in all, and waits until all
// arrived or limit passed.
func relayPhaseRun(ctx context.Context, t target, lanes []*lane, phase int32, n int, rate float64, limit time.Duration) (relayPhase, error) {
	per := n / len(lanes)
	if per < 1 {
		per = 1
	}
	for _, l := range lanes {
		l.errs.Store(0)
		for len(l.window) < cap(l.window) { // refill after a lossy phase
			l.window <- struct{}{}
		}
		l.mu.Lock()
		l.phase, l.recv, l.last = phase, 0, 0
		l.lat = make([]time.Duration, 0, per)
		l.want, l.full = int64(per), make(chan struct{})
		l.mu.Unlock()
	}
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	cpu0, cpuOK := t.cpu()
	start := time.Since(epoch)
	var sent atomic.Int64
	var wg sync.WaitGroup
	for _, l := range lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := sendLane(ctx, l, phase, per, rate/float64(len(lanes)))
			sent.Add(int64(k))
			if err != nil && ctx.Err() == nil {
				cancel() // a broken connection ends the phase
			}
		}()
	}
	wg.Wait()
	for _, l := range lanes {
		select {
		case <-l.full:
		case <-ctx.Done():
		}
	}
	cpu1, _ := t.cpu()
	var p relayPhase
	p.Rate = round(rate)
	var lat []time.Duration
	var last time.Duration
	for _, l := range lanes {
		l.mu.Lock()
		l.phase = 0 // stop counting: what arrives now is lost
		p.Received += l.recv
		last = max(last, l.last)
		lat = append(lat, l.lat...)
		l.mu.Unlock()
		p.Errors += l.errs.Load()
	}
	p.Sent = sent.Load()
	p.Lost = p.Sent - p.Received
	if el := last - start; el > 0 {
		p.MsgsPerSec = round(float64(p.Received) / el.Seconds())
	}
	if cpuOK && cpu1 > cpu0 {
		p.MsgsPerCPUSec = round(float64(p.Received) / (cpu1 - cpu0))
		p.CPUPerMsg = round((cpu1 - cpu0) * 1e6 / float64(p.Received))
	}
	p.Latency = summarize(lat)
	if p.Received == 0 {
		return p, errors.New("relay: no message arrived")
	}
	return p, nil
}

// sendLane sends per messages on l, in batches written with one call, and
// returns how many it sent. rate > 0 paces it (messages/s).
func sendLane(ctx context.Context, l *lane, phase int32, per int, rate float64) (int, error) {
	const batch = 16
	l.msg[l.kAt] = byte('0' + phase)
	var buf []byte
	start := time.Now()
	sent := 0
	for sent < per {
		want := per - sent
		if rate > 0 {
			due := int(time.Since(start).Seconds()*rate) + 1
			if due <= sent {
				next := start.Add(time.Duration(float64(sent) / rate * float64(time.Second)))
				select {
				case <-time.After(time.Until(next)):
				case <-ctx.Done():
					return sent, ctx.Err()
				}
				continue
			}
			want = min(want, due-sent)
		}
		want = min(want, batch)
		// One window slot per message: wait for the first, take what else
		// is free.
		select {
		case <-l.window:
		case <-ctx.Done():
			return sent, ctx.Err()
		}
		k := 1
	grab:
		for k < want {
			select {
			case <-l.window:
				k++
			default:
				break grab
			}
		}
		buf = buf[:0]
		for j := 0; j < k; j++ {
			stamp(l.msg[l.tAt:l.tAt+20], int64(time.Since(epoch)))
			buf = appendFrame(buf, l.msg, l.from.mask)
		}
		l.from.mu.Lock()
		_, err := l.from.nc.Write(buf)
		l.from.mu.Unlock()
		if err != nil {
			return sent, err
		}
		sent += k
	}
	return sent, nil
}

// stamp writes v as 20 zero-padded decimal digits into b.
func stamp(b []byte, v int64) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + v%10)
		v /= 10
	}
}
