package bench

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/pion/logging"
	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/peer/peertest"
)

// A joinTrace records when one session's host and client did what, so that
// the webrtc scenario can split join-to-open into phases and tell a tail in
// the server path (WebSocket, store, broker, routing) from one in pion (ICE,
// DTLS, SCTP) or the peers themselves. The signaling events come from the
// bytes on each peer's WebSocket (tapConn), pion's from its logs (pionTap),
// so package peer needs no hooks.
type joinTrace struct {
	mu     sync.Mutex
	events []traceEvent
}

type traceEvent struct {
	name string // "host in SdpAnswer", "client ice connected", ...
	at   time.Time
}

func (t *joinTrace) mark(name string) { t.markAt(name, time.Now()) }

func (t *joinTrace) markAt(name string, at time.Time) {
	t.mu.Lock()
	t.events = append(t.events, traceEvent{name, at})
	t.mu.Unlock()
}

// first returns the time of the first event named name at or after from.
func (t *joinTrace) first(name string, from time.Time) (time.Time, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, e := range t.events {
		if e.name == name && !e.at.Before(from) {
			return e.at, true
		}
	}
	return time.Time{}, false
}

// phaseSteps is the client's join, step by step in causal order: each
// phase is the time from the step before it. Phases marked server are the
// signaling server's part (with the loopback TCP and the peers' own
// WebSocket code); the others are pion's and package peer's.
var phaseSteps = []struct{ phase, event string }{
	{"connect", "client ws open"},             // server: TCP and WebSocket upgrade
	{"send_join", "client out SessionJoin"},   // client: first frame written
	{"host_notified", "host in SessionReady"}, // server: token, store, broker, to the host
	{"host_offer", "host out SdpOffer"},       // host: pion CreateOffer, SetLocalDescription
	{"offer_routed", "client in SdpOffer"},    // server: routing host -> client
	{"client_answer", "client out SdpAnswer"}, // client: pion SetRemote, CreateAnswer, SetLocal
	{"ice", "client ice connected"},           // pion: ICE checks (with trickled candidates)
	{"dtls", "client pc connected"},           // pion: DTLS handshake
	{"sctp", "client sctp established"},       // pion: SCTP association
	{"open", "client open"},                   // pion + peer: DataChannel open to Join's return
}

// sidePhases are the server's other hops, measured beside the chain.
var sidePhases = []struct{ phase, from, to string }{
	{"join_ready", "client out SessionJoin", "client in SessionReady"}, // server: SessionJoin to SessionReady
	{"answer_routed", "client out SdpAnswer", "host in SdpAnswer"},     // server: routing client -> host
}

// phases returns each phase's duration in trace t of a client whose Join
// started at t0; a phase whose events are missing is left out.
func (t *joinTrace) phases(t0 time.Time) map[string]time.Duration {
	out := map[string]time.Duration{}
	prev := t0
	for _, s := range phaseSteps {
		at, ok := t.first(s.event, prev)
		if !ok {
			break
		}
		out[s.phase] = at.Sub(prev)
		prev = at
	}
	for _, s := range sidePhases {
		a, ok1 := t.first(s.from, t0)
		b, ok2 := t.first(s.to, a)
		if ok1 && ok2 {
			out[s.phase] = b.Sub(a)
		}
	}
	return out
}

// summarizePhases gives each phase's percentiles over all sessions.
func summarizePhases(all []map[string]time.Duration) map[string]Latency {
	if len(all) == 0 {
		return nil
	}
	by := map[string][]time.Duration{}
	for _, m := range all {
		for k, d := range m {
			by[k] = append(by[k], d)
		}
	}
	out := map[string]Latency{}
	for k, d := range by {
		out[k] = summarize(d)
	}
	return out
}

// tapConn marks the signaling messages that cross a peer's connection:
// "SIDE in STATE" when read, "SIDE out STATE" when written, and
// "SIDE ws open" when the upgrade's response has been read.
type tapConn struct {
	net.Conn
	tr      *joinTrace
	side    string
	in, out frameScanner
}

func newTapConn(nc net.Conn, tr *joinTrace, side string) *tapConn {
	return &tapConn{Conn: nc, tr: tr, side: side}
}

func (c *tapConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	c.in.feed(b[:n], func(ev string) { c.tr.mark(c.side + " " + ev) }, "in")
	return n, err
}

// Write marks before writing: the reader may have the frame before Write
// returns. (A net.Conn writes all of b or fails.)
func (c *tapConn) Write(b []byte) (int, error) {
	c.out.feed(b, func(ev string) { c.tr.mark(c.side + " " + ev) }, "out")
	return c.Conn.Write(b)
}

// frameScanner finds the WebSocket text frames in one direction of a
// connection (after its HTTP upgrade) and reports each one's "state".
type frameScanner struct {
	buf      []byte
	upgraded bool
}

func (s *frameScanner) feed(b []byte, mark func(string), dir string) {
	s.buf = append(s.buf, b...)
	if !s.upgraded {
		i := bytes.Index(s.buf, []byte("\r\n\r\n"))
		if i < 0 {
			return
		}
		s.upgraded, s.buf = true, s.buf[i+4:]
		if dir == "in" {
			mark("ws open")
		}
	}
	for {
		payload, rest, ok := nextFrame(s.buf)
		if !ok {
			break
		}
		var m struct {
			State string `json:"state"`
		}
		if payload != nil && json.Unmarshal(payload, &m) == nil && m.State != "" {
			mark(dir + " " + m.State)
		}
		s.buf = rest
	}
	s.buf = append([]byte(nil), s.buf...) // let the consumed bytes go
}

// nextFrame splits one whole frame off b: its unmasked payload if it is a
// text frame (nil otherwise), and the rest of b.
func nextFrame(b []byte) (payload, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, b, false
	}
	op, masked, n, h := b[0]&0x0f, b[1]&0x80 != 0, uint64(b[1]&0x7f), 2
	switch n {
	case 126:
		if len(b) < 4 {
			return nil, b, false
		}
		n, h = uint64(binary.BigEndian.Uint16(b[2:])), 4
	case 127:
		if len(b) < 10 {
			return nil, b, false
		}
		n, h = binary.BigEndian.Uint64(b[2:]), 10
	}
	var key []byte
	if masked {
		if len(b) < h+4 {
			return nil, b, false
		}
		key, h = b[h:h+4], h+4
	}
	if uint64(len(b)-h) < n {
		return nil, b, false
	}
	end := h + int(n)
	if op != 1 {
		return nil, b[end:], true
	}
	payload = append([]byte(nil), b[h:end]...)
	for i := range payload {
		if key != nil {
			payload[i] ^= key[i%4]
		}
	}
	return payload, b[end:], true
}

// tracedAPI is peertest.LoopbackAPI whose pion logs mark the trace's ICE,
// DTLS and SCTP events for side.
func tracedAPI(tr *joinTrace, side string) *webrtc.API {
	se := peertest.LoopbackSettings()
	se.LoggerFactory = pionTap{tr: tr, side: side}
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// pionTap is a pion LoggerFactory that drops every log but the state
// changes the trace needs.
type pionTap struct {
	tr   *joinTrace
	side string
}

func (f pionTap) NewLogger(string) logging.LeveledLogger { return pionLog(f) }

type pionLog pionTap

func (l pionLog) Infof(format string, args ...any) {
	switch {
	case format == "ICE connection state changed: %s" && len(args) == 1:
		if fmt.Sprint(args[0]) == "connected" {
			l.tr.mark(l.side + " ice connected")
		}
	case format == "peer connection state changed: %s" && len(args) == 1:
		if fmt.Sprint(args[0]) == "connected" {
			l.tr.mark(l.side + " pc connected")
		}
	}
}

func (l pionLog) Debugf(format string, args ...any) {
	if strings.HasSuffix(format, "state change: '%s' => '%s'") && len(args) == 3 && fmt.Sprint(args[2]) == "Established" {
		l.tr.mark(l.side + " sctp established")
	}
}

func (pionLog) Trace(string)          {}
func (pionLog) Tracef(string, ...any) {}
func (pionLog) Debug(string)          {}
func (pionLog) Info(string)           {}
func (pionLog) Warn(string)           {}
func (pionLog) Warnf(string, ...any)  {}
func (pionLog) Error(string)          {}
func (pionLog) Errorf(string, ...any) {}

// tailPhases names, for each of the slowest 1 % of sessions (total[i] with
// phases[i]), the chain phase that exceeded its median p50 the most.
func tailPhases(total []time.Duration, phases []map[string]time.Duration, med map[string]Latency) map[string]int {
	if len(phases) != len(total) || len(total) == 0 {
		return nil
	}
	idx := make([]int, len(total))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return cmp.Compare(total[b], total[a]) })
	out := map[string]int{}
	for _, i := range idx[:max(1, len(idx)/100)] {
		worst, over := "", time.Duration(-1<<63)
		for _, s := range phaseSteps {
			d, ok := phases[i][s.phase]
			if !ok {
				continue
			}
			if x := d - time.Duration(med[s.phase].P50*1e6); x > over {
				worst, over = s.phase, x
			}
		}
		out[worst]++
	}
	return out
}
