package peer_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"html/template"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// The conformance suite: one table of host and client rules (PROTOCOL.md,
// "Host behaviour"), each run with a Go host and a browser host, and Go
// and browser clients, so that both implementations pass the same table.
// A new rule is added here first. Browser runs need the loopback-only
// namespace: unshare --net sh -c 'ip link set lo up && exec go test -run Conformance ./peer'

var conformance = []struct {
	name string
	run  func(c *confRun)
}{
	{"late joiner", confLateJoiner},
	{"message during negotiation", confDuringNegotiation},
	{"gone longer than forget-after", confForgetAfter},
	{"large text and binary messages", confLarge},
	{"over the maximum size", confOverMax},
	{"fatal refusal", confFatalRefusal},
	{"duplicate peer", confDuplicate},
	{"slow client", confSlowClient},
	{"host's own burst", confHostBurst},
	{"host change", confHostChange},
	{"host change to the named successor", confSuccessor},
	{"state hand-off across a host change", confHandOff},
	{"named channels", confNamedChannels},
}

func TestConformance(t *testing.T) {
	kinds := []string{"go", "browser"}
	for _, sc := range conformance {
		for _, hk := range kinds {
			for _, ck := range kinds {
				t.Run(fmt.Sprintf("%s/%s host/%s clients", sc.name, hk, ck), func(t *testing.T) {
					sc.run(newConfRun(t, hk, ck))
				})
			}
		}
	}
}

// confRun is one scenario's room: a server (at most confMaxPeers per
// session), the harness page for browser members, and the kinds to use.
type confRun struct {
	t          *testing.T
	srv        *p2pstreams.Server
	store      *successorStore
	url, base  string
	b          *browsertest.Browser
	host, kind string // member kinds: "go" or "browser"
	room       string
	goMembers  []*goMember               // for closeAll
	pages      map[string]*browserMember // browser members by id (a duplicate opens a tab of the first's)
}

const confMaxPeers = 3

func newConfRun(t *testing.T, host, clients string) *confRun {
	t.Helper()
	var b *browsertest.Browser
	if host == "browser" || clients == "browser" {
		b = browsertest.Shared(t)
	}
	checkGoroutines(t)
	return newConfRunWith(t, host, clients, b, 0)
}

// newConfRunWith is newConfRun with the server's SuccessorWindow.
func newConfRunWith(t *testing.T, host, clients string, b *browsertest.Browser, window time.Duration) *confRun {
	t.Helper()
	store := &successorStore{MemoryStore: p2pstreams.NewMemoryStore(), named: map[protocol.SessionID]protocol.PeerID{}}
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{
		Secret: []byte("peer-conformance-secret-0123456789"), MaxPeers: confMaxPeers,
		Store: store, Lease: -1, SuccessorWindow: window,
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &confRun{t: t, srv: srv, store: store, b: b, host: host, kind: clients, room: "conf"}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.HandleFunc("/member", c.memberPage)
	hs := serve(t, srv, mux)
	c.base = hs.URL
	c.url = "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/"
	return c
}

// member is one peer of the room, Go or browser, seen the same way.
type member interface {
	ID() string
	IsHost() bool
	Send(text string) error                 // a small JSON string
	SendBig(kind string, n, seed int) error // "text" or "bin", made by bigPayload's rule
	// Burst sends count big messages (seeds 0, 1, ...) as fast as the
	// member takes them, and returns each one's error code ("" when sent).
	Burst(kind string, n, count int) []string
	Lines() []string           // "from: text", big ones as "from: kind:len:sha256"
	States() map[string]string // the last state map
	Errors() []string          // error codes reported
	State() string             // its own state
	Go()                       // goes without leaving: a closed page, a stopped process
	// SendWhenNegotiating arms the host to send text the moment its map
	// shows peer id negotiating.
	SendWhenNegotiating(id, text string)
	SlowDrops() int        // host: clients dropped as too slow
	HostChanges() []string // "previous>current", from OnHostChange / p2pHostChanged
	// Named channels: lines of messages on one show as "#name from: text".
	OpenChannel(s protocol.ChannelSpec) error // the spec's name and options
	SendOn(channel, text string) error
	// Rogue opens a DataChannel to the host outside the protocol and
	// sends text on it (a client only).
	Rogue(channel, text string)
	Knows(channel string) bool // it has the channel (its app's, or its host opened it)
}

// opts are a member's settings beyond its id.
type opts struct {
	config      *p2pstreams.FrameConfig
	expired     bool          // an expired token
	forgetAfter time.Duration // host: shorter forget-after
	// retryFull: join again while session_full (the host's PeerLeft and
	// this join travel on different connections: either may come first)
	retryFull bool
	noHandOff bool // no state hand-off (the harness opts in by default)
	// duplicate: the id is connected already; a Go peer's Join is
	// expected to fail (it would retry peer_connected until its context ends)
	duplicate bool
}

func (c *confRun) join(kind, id string, o opts) member {
	c.t.Helper()
	if kind == "go" {
		return c.joinGo(id, o)
	}
	return c.joinBrowser(id, o)
}

// hostAndClients joins the host, then n clients, and waits until every one
// sees every other connected.
func (c *confRun) hostAndClients(n int, o opts) (member, []member) {
	c.t.Helper()
	h := c.join(c.host, "h", o)
	c.wait("h hosts", func() bool { return h.IsHost() && h.State() == "connected" })
	var cs []member
	for i := range n {
		cs = append(cs, c.join(c.kind, fmt.Sprintf("c%d", i+1), o))
	}
	c.allConnected(append([]member{h}, cs...)...)
	return h, cs
}

func (c *confRun) allConnected(ms ...member) {
	c.t.Helper()
	for _, m := range ms {
		for _, o := range ms {
			c.wait(m.ID()+" sees "+o.ID()+" connected", func() bool { return m.States()[o.ID()] == "connected" })
		}
	}
}

func (c *confRun) wait(what string, cond func() bool) {
	c.t.Helper()
	d := 20 * time.Second
	if raceEnabled { // pion moves megabytes far slower under the race detector
		d = 3 * time.Minute
	}
	eventually(c.t, d, what, cond)
}

// sameLines waits until every member shows want, in order.
func (c *confRun) sameLines(want []string, ms ...member) {
	c.t.Helper()
	for _, m := range ms {
		c.wait(fmt.Sprintf("%s shows %d lines", m.ID(), len(want)), func() bool { return len(m.Lines()) >= len(want) })
		if got := m.Lines(); !slices.Equal(got, want) {
			c.t.Errorf("%s shows %q, want %q: every peer gets every message once, in order", m.ID(), got, want)
		}
	}
}

// ---- the scenarios

// A client that joins late gets the whole state map, the host's state
// (here the lines it shows: the harness opts in to the hand-off) and every
// message from then on, each once.
func confLateJoiner(c *confRun) {
	h, cs := c.hostAndClients(1, opts{})
	must(c.t, cs[0].Send("before"))
	c.sameLines([]string{"c1: before"}, h, cs[0])
	late := c.join(c.kind, "late", opts{})
	c.allConnected(h, cs[0], late)
	must(c.t, h.Send("after"))
	c.sameLines([]string{"c1: before", "h: after"}, h, cs[0])
	c.sameLines([]string{"c1: before", "h: after"}, late)
}

// A Data message the host relays while a client negotiates reaches that
// client once its channel opens, in order.
func confDuringNegotiation(c *confRun) {
	h, cs := c.hostAndClients(1, opts{})
	h.SendWhenNegotiating("c2", "while c2 negotiates")
	c2 := c.join(c.kind, "c2", opts{})
	c.allConnected(h, cs[0], c2)
	must(c.t, cs[0].Send("then"))
	c.sameLines([]string{"h: while c2 negotiates", "c1: then"}, h, cs[0], c2)
}

// A client gone longer than forget-after leaves the host's map, and the
// host's PeerLeft frees its place: a full session takes a new peer.
func confForgetAfter(c *confRun) {
	h, cs := c.hostAndClients(2, opts{forgetAfter: time.Second}) // confMaxPeers: the room is full
	cs[0].Go()
	c.wait("h sees c1 gone", func() bool { s := h.States()["c1"]; return s != "connected" })
	c.wait("h forgets c1", func() bool { _, ok := h.States()["c1"]; return !ok })
	c.wait("c2 gets the map without c1", func() bool { _, ok := cs[1].States()["c1"]; return !ok && len(cs[1].States()) == 2 })
	c3 := c.join(c.kind, "c3", opts{retryFull: true})
	c.allConnected(h, cs[1], c3)
}

// 5 MiB of text and 5 MiB of bytes, each way, reach every peer intact and
// in order with small messages around them.
func confLarge(c *confRun) {
	h, cs := c.hostAndClients(2, opts{})
	const n = 5 << 20
	var want []string
	for i, m := range []member{cs[0], h} {
		must(c.t, m.Send("small 1"))
		must(c.t, m.SendBig("text", n, i))
		must(c.t, m.Send("small 2"))
		must(c.t, m.SendBig("bin", n, i+10))
		must(c.t, m.Send("small 3"))
		want = append(want, m.ID()+": small 1", m.ID()+": "+bigLine("text", n, i), m.ID()+": small 2",
			m.ID()+": "+bigLine("bin", n, i+10), m.ID()+": small 3")
	}
	for _, m := range []member{h, cs[0], cs[1]} {
		c.wait(m.ID()+" gets all 10", func() bool { return len(m.Lines()) >= 10 })
		got := m.Lines()
		if !slices.Equal(sorted(got), sorted(want)) || !inOrder(got, want[:5]) || !inOrder(got, want[5:]) {
			c.t.Errorf("%s got %q, want %q (each sender's in order)", m.ID(), got, want)
		}
	}
	order := h.Lines()
	for _, m := range cs {
		if !slices.Equal(m.Lines(), order) {
			c.t.Errorf("%s has another order than the host: %q vs %q", m.ID(), m.Lines(), order)
		}
	}
}

// A message over maxMessageSize is refused at the sender with
// message_too_large; one under it passes.
func confOverMax(c *confRun) {
	cfg := &p2pstreams.FrameConfig{MaxMessageSize: 1 << 20}
	h, cs := c.hostAndClients(1, opts{config: cfg})
	for _, m := range []member{cs[0], h} {
		for _, kind := range []string{"text", "bin"} {
			if err := m.SendBig(kind, 2<<20, 1); protocol.CodeOf(err) != protocol.CodeTooLarge {
				c.t.Errorf("%s sending 2 MiB of %s over a 1 MiB maximum: %v, want message_too_large", m.ID(), kind, err)
			}
		}
	}
	must(c.t, cs[0].SendBig("bin", 512<<10, 3))
	c.sameLines([]string{"c1: " + bigLine("bin", 512<<10, 3)}, h, cs[0])
}

// A refusal that retrying cannot fix (an expired token) ends the client
// (failed) without retrying; the room goes on.
func confFatalRefusal(c *confRun) {
	h, cs := c.hostAndClients(1, opts{})
	bad := c.join(c.kind, "expired", opts{expired: true})
	c.wait("the expired client fails", func() bool { return bad.State() == "failed" })
	if e := bad.Errors(); !slices.Contains(e, string(protocol.CodeTokenExpired)) {
		c.t.Errorf("errors %v, want token_expired", e)
	}
	must(c.t, cs[0].Send("still here"))
	c.sameLines([]string{"c1: still here"}, h, cs[0])
}

// A client that cannot keep up is dropped (failed, counted) when its queue
// passes the relay's bound; the others get every message, in order, at
// their own pace.
func confSlowClient(c *confRun) {
	if raceEnabled {
		c.t.Skip("under the race detector every client is slow: run without -race")
	}
	// No hand-off: a dropped client that rejoins must not get the history.
	h, cs := c.hostAndClients(1, opts{noHandOff: true})
	slow := c.joinGo("slow", opts{}).(*goMember) // only a Go peer can be made slow
	c.allConnected(h, cs[0], slow)
	peer.ReadSlowly(slow.p, 50*time.Millisecond) // about 300 KB/s: far behind the others
	const n, count = 4 << 20, 10                 // 40 MiB: past protocol.RelayMaxQueued (32 MiB)
	var want []string
	for i := range count {
		// At the pace of the client that keeps up (a burst bigger than
		// the bound would leave every client behind by as much).
		must(c.t, h.SendBig("bin", n, i))
		want = append(want, "h: "+bigLine("bin", n, i))
		c.wait("c1 keeps up", func() bool { return len(cs[0].Lines()) > i })
	}
	// Dropped (and counted), it rejoins by itself: its state in the map
	// does not stay failed for long.
	c.wait("the host drops the slow client", func() bool { return h.SlowDrops() >= 1 })
	peer.ReadSlowly(slow.p, 0)
	c.sameLines(want, h, cs[0]) // c1 was never dropped: it has every message
	if got := slow.Lines(); len(got) >= count {
		c.t.Errorf("the slow client got all %d messages: it was not dropped", len(got))
	}
}

// A second connection with a peer id that is connected already never joins
// and never disturbs the first: a second page in the same browser is
// refused by the Web Lock (already_open, no WebSocket), a second Go peer by
// the server (peer_connected, while the first holds its signaling
// connection: here keepCableConnection). The host sees nothing of it.
func confDuplicate(c *confRun) {
	keep := opts{config: &p2pstreams.FrameConfig{KeepCableConnection: true}}
	h, cs := c.hostAndClients(1, keep)
	before := cs[0].HostChanges()
	dup := keep
	dup.duplicate = true
	twin := c.join(c.kind, "c1", dup)
	c.wait("the second c1 fails", func() bool { return twin.State() == "failed" })
	want := map[string]string{"go": string(protocol.CodePeerConnected), "browser": string(protocol.CodeAlreadyOpen)}[c.kind]
	if e := twin.Errors(); !slices.Contains(e, want) {
		c.t.Errorf("the second c1 reported %v, want %s", e, want)
	}
	must(c.t, cs[0].Send("still the first"))
	c.sameLines([]string{"c1: still the first"}, h, cs[0])
	if s := h.States()["c1"]; s != "connected" {
		c.t.Errorf("the host shows c1 %s, want connected", s)
	}
	if hc := cs[0].HostChanges(); !slices.Equal(hc, before) || cs[0].State() != "connected" {
		c.t.Errorf("the first c1 is %s with host changes %v (%v before): it was disturbed", cs[0].State(), hc, before)
	}
}

// The host's own burst, far past the relay's bound at once, drops no
// client that keeps up: the Go host's Send waits for its fastest client, the
// browser host's send refuses (slow_reader) what its fastest client cannot
// take. Every client that keeps up gets what was sent, in order; one slower
// than the fastest is dropped and counted.
func confHostBurst(c *confRun) {
	if raceEnabled {
		c.t.Skip("under the race detector pion moves 40 MiB too slowly: run without -race")
	}
	h, cs := c.hostAndClients(2, opts{noHandOff: true})
	const n, count = 4 << 20, 10 // 40 MiB: past protocol.RelayMaxQueued (32 MiB)
	codes := h.Burst("bin", n, count)
	var want []string
	for i, code := range codes {
		switch {
		case code == "":
			want = append(want, "h: "+bigLine("bin", n, i))
		case c.host == "go" || code != string(protocol.CodeSlowReader):
			c.t.Errorf("message %d of the burst: %s", i, code)
		}
	}
	c.t.Logf("the host took %d of %d messages (%q)", len(want), count, codes)
	defer func() { // what a failure needs to be told from a starved machine's
		if c.t.Failed() {
			for _, m := range []member{h, cs[0], cs[1]} {
				c.t.Logf("%s: %d lines, state %s, states %v, errors %v", m.ID(), len(m.Lines()), m.State(), m.States(), m.Errors())
			}
			c.t.Logf("the host's slow drops: %d", h.SlowDrops())
		}
	}()
	// Pacing follows the fastest client: it gets every message, and so does
	// every client that keeps up with it. One that does not (seen in CI at
	// load: c1 0 lines while c2 had all 10) is dropped, counted, as PROTOCOL.md
	// says. Without pacing every client was dropped, so none would get it all.
	eventually(c.t, 3*time.Minute, "h gets the burst", func() bool { return len(h.Lines()) >= len(want) })
	whole := func(m member) bool { return len(m.Lines()) >= len(want) }
	eventually(c.t, 3*time.Minute, "the fastest client gets the burst", func() bool { return whole(cs[0]) || whole(cs[1]) })
	for _, m := range cs { // the other one: whole too, or dropped
		eventually(c.t, 3*time.Minute, m.ID()+" gets the burst or is dropped", func() bool {
			return whole(m) || h.SlowDrops() > 0
		})
	}
	kept := []member{h}
	for _, m := range cs {
		if whole(m) {
			kept = append(kept, m)
		}
	}
	c.sameLines(want, kept...)
	if short := 3 - len(kept); h.SlowDrops() < short {
		c.t.Errorf("%d clients short of the burst but %d dropped: a client neither kept up nor was dropped", short, h.SlowDrops())
	}
	if len(kept) < 3 {
		c.t.Logf("a client slower than the fastest was dropped (slow drops %d)", h.SlowDrops())
	}
	c.allConnected(h, cs[0], cs[1])
}

// The host goes: its clients elect one of themselves, and the room works.
func confHostChange(c *confRun) {
	h, cs := c.hostAndClients(2, opts{})
	h.Go()
	c.wait("a new host", func() bool { return cs[0].IsHost() || cs[1].IsHost() })
	c.allConnected(cs...)
	next := cs[0].ID()
	if cs[1].IsHost() {
		next = cs[1].ID()
	}
	for _, m := range cs {
		c.wait(m.ID()+" is told of the host change", func() bool { return slices.Contains(m.HostChanges(), "h>"+next) })
	}
	must(c.t, cs[1].Send("after the change"))
	for _, m := range cs {
		c.wait(m.ID()+" gets the message", func() bool { return slices.Contains(m.Lines(), "c2: after the change") })
	}
}

// The host names its longest-connected client its successor (through the
// server); when the host goes, that client hosts, even when the other one
// comes back first (it waits: successor_pending).
func confSuccessor(c *confRun) {
	h := c.join(c.host, "h", opts{})
	c.wait("h hosts", func() bool { return h.IsHost() && h.State() == "connected" })
	first := c.join(c.kind, "c1", opts{})
	c.allConnected(h, first)
	second := c.join(c.kind, "c2", opts{})
	c.allConnected(h, first, second)
	c.wait("h names c1 its successor", func() bool { return c.store.successor(c.room) == "c1" })
	h.Go()
	c.wait("a new host", func() bool { return first.IsHost() || second.IsHost() })
	if second.IsHost() {
		c.t.Fatal("c2 hosts: the named successor was c1")
	}
	c.allConnected(first, second)
	if second.IsHost() || !first.IsHost() {
		c.t.Fatalf("c1 host %v, c2 host %v: want c1 only", first.IsHost(), second.IsHost())
	}
}

// The host's state (here: the lines it shows) reaches a newcomer, and
// survives a host change: a newcomer to the new host gets all of it, once.
func confHandOff(c *confRun) {
	h, cs := c.hostAndClients(1, opts{})
	must(c.t, h.Send("one"))
	must(c.t, cs[0].Send("two"))
	want := []string{"h: one", "c1: two"}
	c.sameLines(want, h, cs[0])
	late := c.join(c.kind, "late", opts{})
	c.sameLines(want, late)
	h.Go()
	c.wait("a new host", func() bool { return cs[0].IsHost() || late.IsHost() })
	c.allConnected(cs[0], late)
	late2 := c.join(c.kind, "late2", opts{})
	c.allConnected(cs[0], late, late2)
	c.sameLines(want, late2)
	must(c.t, late2.Send("three"))
	want = append(want, "late2: three")
	c.sameLines(want, cs[0], late, late2)
}

// successorStore is the server's memory store, noting the successor each
// session's host names (the test waits for it before the host goes).
type successorStore struct {
	*p2pstreams.MemoryStore
	mu    sync.Mutex
	named map[protocol.SessionID]protocol.PeerID
}

func (s *successorStore) SetSuccessor(ctx context.Context, sid protocol.SessionID, host, successor protocol.PeerID, window time.Duration) error {
	err := s.MemoryStore.SetSuccessor(ctx, sid, host, successor, window)
	if err == nil {
		s.mu.Lock()
		s.named[sid] = successor
		s.mu.Unlock()
	}
	return err
}

func (s *successorStore) successor(room string) protocol.PeerID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.named[protocol.SessionID(room)]
}

// ---- payloads

// bigPayload is n bytes made from seed, the same rule as the page's.
func bigPayload(kind string, n, seed int) []byte {
	const alphabet = `abcdefghijklmnopqrstuvwxyz0123456789 "\`
	b := make([]byte, n)
	for i := range b {
		if kind == "text" {
			b[i] = alphabet[(i*7+seed)%len(alphabet)]
		} else {
			b[i] = byte(i*31 + seed)
		}
	}
	return b
}

func bigLine(kind string, n, seed int) string {
	sum := sha256.Sum256(bigPayload(kind, n, seed))
	return fmt.Sprintf("%s:%d:%s", kind, n, hex.EncodeToString(sum[:]))
}

// line is how a member shows a received message.
func line(from string, text string, bin []byte, isBin bool) string {
	switch {
	case isBin:
		sum := sha256.Sum256(bin)
		return fmt.Sprintf("%s: bin:%d:%s", from, len(bin), hex.EncodeToString(sum[:]))
	case len(text) > 1000:
		sum := sha256.Sum256([]byte(text))
		return fmt.Sprintf("%s: text:%d:%s", from, len(text), hex.EncodeToString(sum[:]))
	}
	return from + ": " + text
}

func sorted(s []string) []string { s = slices.Clone(s); slices.Sort(s); return s }

// inOrder reports whether sub appears in s in its order.
func inOrder(s, sub []string) bool {
	i := 0
	for _, x := range s {
		if i < len(sub) && x == sub[i] {
			i++
		}
	}
	return i == len(sub)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ---- Go members

type goMember struct {
	c   *confRun
	p   *peer.Peer
	id  string
	mu  sync.Mutex
	ls  []string
	st  map[string]string
	err []string
	arm map[string]string // SendWhenNegotiating
	hc  []string
	chs map[string]*peer.Channel
}

func (c *confRun) joinGo(id string, o opts) member {
	if o.forgetAfter > 0 {
		c.t.Cleanup(peer.SetForgetAfter(o.forgetAfter))
	}
	g := &goMember{c: c, id: id, st: map[string]string{}, arm: map[string]string{}, chs: map[string]*peer.Channel{}}
	ttl := time.Hour
	tok, err := c.srv.Token(protocol.SessionID(c.room), protocol.PeerID(id), ttl, o.config)
	if err != nil {
		c.t.Fatal(err)
	}
	if o.expired {
		tok = expiredToken(c, id)
	}
	cfg := peer.Config{
		URL: c.url, Token: tok, API: loopback, Logger: confLog(),
		OnMessage: func(m peer.Message) {
			g.mu.Lock()
			defer g.mu.Unlock()
			l := line(string(m.From), m.Text(), m.Binary, m.Data == nil)
			if m.Channel != "" {
				l = "#" + m.Channel + " " + l
			}
			g.ls = append(g.ls, l)
		},
		OnPeers: func(m map[protocol.PeerID]peer.State) {
			g.mu.Lock()
			g.st = map[string]string{}
			var fire []string
			for id, s := range m {
				g.st[string(id)] = s.String()
				if text, ok := g.arm[string(id)]; ok && s == peer.StateNegotiating {
					delete(g.arm, string(id))
					fire = append(fire, text)
				}
			}
			g.mu.Unlock()
			for _, text := range fire {
				g.p.Send(context.Background(), text)
			}
		},
		OnHostChange: func(prev, cur protocol.PeerID) {
			g.mu.Lock()
			g.hc = append(g.hc, string(prev)+">"+string(cur))
			g.mu.Unlock()
		},
		HostState: func() any {
			g.mu.Lock()
			defer g.mu.Unlock()
			return slices.Clone(g.ls)
		},
		OnRestoreState: func(raw json.RawMessage) {
			var ls []string
			if err := json.Unmarshal(raw, &ls); err != nil {
				c.t.Errorf("%s: restored state %s: %v", id, raw, err)
				return
			}
			g.mu.Lock()
			g.ls = ls
			g.mu.Unlock()
		},
		OnError: func(err error) {
			g.mu.Lock()
			g.err = append(g.err, string(protocol.CodeOf(err)))
			g.mu.Unlock()
		},
	}
	if o.noHandOff {
		cfg.HostState = nil
	}
	joinFor := 20 * time.Second
	if o.duplicate {
		joinFor = 3 * time.Second // peer_connected is a retry: Join tries until then
	}
	ctx, cancel := context.WithTimeout(context.Background(), joinFor)
	defer cancel()
	p, err := peer.Join(ctx, cfg)
	for o.retryFull && protocol.CodeOf(err) == protocol.CodeSessionFull && ctx.Err() == nil {
		time.Sleep(50 * time.Millisecond) // a bounded poll: ctx ends it
		p, err = peer.Join(ctx, cfg)
	}
	if o.expired || o.duplicate {
		if err == nil {
			c.t.Fatalf("%s joined: want a refusal (expired %v, duplicate %v)", id, o.expired, o.duplicate)
		}
		g.err = append(g.err, string(protocol.CodeOf(err)))
		return &failedMember{goMember: g}
	}
	if err != nil {
		c.t.Fatalf("Join %s: %v", id, err)
	}
	g.p = p
	c.t.Cleanup(func() { closePeer(c.t, p) })
	c.goMembers = append(c.goMembers, g)
	return g
}

// failedMember is a Go peer whose Join was refused.
type failedMember struct{ *goMember }

func (f *failedMember) State() string { return "failed" }

func expiredToken(c *confRun, id string) string {
	// A token issued with an expiry in the past: the server refuses it with token_expired.
	tok, err := c.srv.Token(protocol.SessionID(c.room), protocol.PeerID(id), -time.Hour, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return tok
}

func (g *goMember) ID() string    { return g.id }
func (g *goMember) IsHost() bool  { return g.p != nil && g.p.IsHost() }
func (g *goMember) State() string { return g.p.State().String() }
func (g *goMember) Send(text string) error {
	return g.p.Send(context.Background(), text)
}
func (g *goMember) SendBig(kind string, n, seed int) error {
	b := bigPayload(kind, n, seed)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute) // the race detector slows pion down a lot
	defer cancel()
	if kind == "text" {
		return g.p.Send(ctx, string(b))
	}
	return g.p.Send(ctx, b)
}
func (g *goMember) Burst(kind string, n, count int) []string {
	codes := make([]string, count)
	for i := range codes {
		if err := g.SendBig(kind, n, i); err != nil {
			codes[i] = err.Error()
			if c := protocol.CodeOf(err); c != "" {
				codes[i] = string(c)
			}
		}
	}
	return codes
}
func (g *goMember) Lines() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.ls)
}
func (g *goMember) States() map[string]string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st
}
func (g *goMember) Errors() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.err)
}
func (g *goMember) Go() {
	// A stopped process: its links close, it says nothing to the server
	// (a client dropped its WebSocket once connected).
	closePeer(g.c.t, g.p)
}
func (g *goMember) SlowDrops() int { return int(g.p.SlowDrops()) }
func (g *goMember) HostChanges() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return slices.Clone(g.hc)
}
func (g *goMember) OpenChannel(s protocol.ChannelSpec) error {
	o := peer.ChannelOptions{Unordered: s.Ordered != nil && !*s.Ordered, MaxRetransmits: s.MaxRetransmits, MaxPacketLifeTime: s.MaxPacketLifeTime}
	ch, err := g.p.OpenChannel(s.Name, o)
	if err == nil {
		g.mu.Lock()
		g.chs[s.Name] = ch
		g.mu.Unlock()
	}
	return err
}
func (g *goMember) SendOn(channel, text string) error {
	g.mu.Lock()
	ch := g.chs[channel]
	g.mu.Unlock()
	if ch == nil {
		return fmt.Errorf("%s: channel %q not opened", g.id, channel)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return ch.Send(ctx, text)
}
func (g *goMember) Knows(channel string) bool { return peer.KnowsChannel(g.p, channel) }
func (g *goMember) Rogue(channel, text string) {
	must(g.c.t, peer.RogueChannel(g.p, g.p.HostID(), channel, text))
}
func (g *goMember) SendWhenNegotiating(id, text string) {
	g.mu.Lock()
	g.arm[id] = text
	g.mu.Unlock()
}

// ---- browser members

type browserMember struct {
	c  *confRun
	pg *browsertest.Page
	id string
}

// memberPage is the harness page: a <p2p-frame> whose events it records in
// window.conf for the test to read.
func (c *confRun) memberPage(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("id")
	var cfg *p2pstreams.FrameConfig
	if s := q.Get("config"); s != "" {
		cfg = new(p2pstreams.FrameConfig)
		if err := json.Unmarshal([]byte(s), cfg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
	}
	ttl := time.Hour
	if q.Get("expired") != "" {
		ttl = -time.Hour
	}
	tok, err := c.srv.Token(protocol.SessionID(c.room), protocol.PeerID(id), ttl, cfg)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	forget, _ := strconv.Atoi(q.Get("forget"))
	confPage.Execute(w, map[string]any{"Token": tok, "Config": cfg, "ForgetAfter": forget, "HandOff": q.Get("nohandoff") == ""})
}

var confPage = template.Must(template.New("member").Funcs(template.FuncMap{"json": func(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}}).Parse(`<!doctype html>
<script type="module">
import "/p2p/p2pstreams.js"
const f = document.querySelector("p2p-frame")
const conf = (window.conf = { lines: [], states: {}, errors: [], state: "new", arm: {}, hostChanges: [] })
const hex = async (b) => [...new Uint8Array(await crypto.subtle.digest("SHA-256", b))].map((x) => x.toString(16).padStart(2, "0")).join("")
f.addEventListener("p2p:state", (e) => { conf.state = e.detail.state })
f.addEventListener("p2p:error", (e) => conf.errors.push(e.detail.code))
f.addEventListener("p2p:hostchanged", (e) => conf.hostChanges.push(e.detail.previous + ">" + e.detail.current))
f.addEventListener("p2p:message", (e) => {
  const m = e.detail
  if (m.type === "Data.Connection.State") {
    conf.states = m.data
    for (const [id, s] of Object.entries(m.data)) {
      if (s === "negotiating" && conf.arm[id] !== undefined) { f.send(conf.arm[id]); delete conf.arm[id] }
    }
    return
  }
  if (m.type !== "Data") return
  const entry = { line: "" } // pushed now: the order is the arrival's, the hash comes later
  conf.lines.push(entry)
  const from = (m.channel ? "#" + m.channel + " " : "") + m.senderId
  if (m.data instanceof Uint8Array) hex(m.data).then((h) => { entry.line = from + ": bin:" + m.data.length + ":" + h })
  else if (typeof m.data === "string" && m.data.length > 1000) hex(new TextEncoder().encode(m.data)).then((h) => { entry.line = from + ": text:" + m.data.length + ":" + h })
  else entry.line = from + ": " + (typeof m.data === "string" ? m.data : JSON.stringify(m.data))
})
// big is bigPayload of conformance_test.go.
window.big = (kind, n, seed) => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789 "\\'
  const b = new Uint8Array(n)
  for (let i = 0; i < n; i++) b[i] = kind === "text" ? alphabet.charCodeAt((i * 7 + seed) % alphabet.length) : (i * 31 + seed) & 255
  return kind === "text" ? new TextDecoder().decode(b) : b
}
window.sendCode = (data, opts) => {
  const before = conf.errors.length
  const ok = f.send(data, opts)
  return ok ? "" : conf.errors.slice(before)[0] || "not_connected"
}
window.openCode = (name, opts) => {
  const before = conf.errors.length
  return f.openChannel(name, opts) ? "" : conf.errors.slice(before)[0] || "refused"
}
window.rogue = (name, text) => {
  const dc = f.peer.upstream.pc.createDataChannel(name)
  dc.onopen = () => dc.send(JSON.stringify({ type: "Data", data: text }))
}
{{if .HandOff}}// The state hand-off: the lines shown are the state.
f.addP2pListener({
  p2pHostState: () => conf.lines.map((e) => e.line),
  p2pRestoreState: (lines) => { conf.lines = lines.map((line) => ({ line })) },
}){{end}}
{{with .ForgetAfter}}customElements.whenDefined("p2p-frame").then(() => {
  const set = () => (f.peer ? (f.peer.forgetAfterMls = {{.}}) : setTimeout(set, 5))
  set()
}){{end}}
</script>
<p2p-frame token="{{.Token}}"{{with .Config}} config="{{json .}}"{{end}}></p2p-frame>
`))

func (c *confRun) joinBrowser(id string, o opts) member {
	c.t.Helper()
	u := c.base + "/member?id=" + id
	if o.config != nil {
		b, _ := json.Marshal(o.config)
		u += "&config=" + template.URLQueryEscaper(string(b))
	}
	if o.expired {
		u += "&expired=1"
	}
	if o.forgetAfter > 0 {
		u += fmt.Sprintf("&forget=%d", o.forgetAfter.Milliseconds())
	}
	if o.noHandOff {
		u += "&nohandoff=1"
	}
	var pg *browsertest.Page
	if first := c.pages[id]; o.duplicate && first != nil {
		pg = first.pg.NewTab(c.t) // the same browser, the same user: the Web Lock is shared
	} else {
		pg = c.b.NewPage(c.t)
	}
	pg.Navigate(u)
	pg.WaitTrue(`window.conf`, "the harness page")
	m := &browserMember{c: c, pg: pg, id: id}
	if c.pages == nil {
		c.pages = map[string]*browserMember{}
	}
	if !o.duplicate {
		c.pages[id] = m
	}
	return m
}

func (b *browserMember) ID() string { return b.id }
func (b *browserMember) IsHost() bool {
	var v bool
	b.pg.Eval(`document.querySelector("p2p-frame").iamHost`, &v)
	return v
}
func (b *browserMember) State() string {
	var s string
	b.pg.Eval(`conf.state`, &s)
	return s
}
func (b *browserMember) send(expr string) error {
	var code string
	b.pg.Eval(`sendCode(`+expr+`)`, &code)
	if code != "" {
		return &protocol.CodeError{Code: protocol.Code(code)}
	}
	return nil
}
func (b *browserMember) Send(text string) error {
	q, _ := json.Marshal(text)
	return b.send(string(q))
}
func (b *browserMember) SendBig(kind string, n, seed int) error {
	return b.send(fmt.Sprintf("big(%q, %d, %d)", kind, n, seed))
}
func (b *browserMember) Burst(kind string, n, count int) []string {
	var codes []string
	// In one task: the page cannot drain anything in between.
	b.pg.Eval(fmt.Sprintf(`(() => { const out = []; for (let i = 0; i < %d; i++) out.push(sendCode(big(%q, %d, i))); return out })()`, count, kind, n), &codes)
	return codes
}
func (b *browserMember) Lines() []string {
	var ls []string
	// The lines whose hash is done, up to the first one still hashing.
	b.pg.Eval(`(() => { const out = []; for (const e of conf.lines) { if (!e.line) break; out.push(e.line) } return out })()`, &ls)
	return ls
}
func (b *browserMember) States() map[string]string {
	var m map[string]string
	b.pg.Eval(`conf.states`, &m)
	return m
}
func (b *browserMember) Errors() []string {
	var e []string
	b.pg.Eval(`conf.errors`, &e)
	return e
}
func (b *browserMember) Go() { b.pg.Close() }
func (b *browserMember) HostChanges() []string {
	var hc []string
	b.pg.Eval(`conf.hostChanges`, &hc)
	return hc
}
func (b *browserMember) SlowDrops() int {
	var n int
	b.pg.Eval(`document.querySelector("p2p-frame").peer.slowDrops`, &n)
	return n
}
func (b *browserMember) OpenChannel(s protocol.ChannelSpec) error {
	opts, _ := json.Marshal(s)
	q, _ := json.Marshal(s.Name)
	var code string
	b.pg.Eval(fmt.Sprintf(`openCode(%s, %s)`, q, opts), &code)
	if code != "" {
		return &protocol.CodeError{Code: protocol.Code(code)}
	}
	return nil
}
func (b *browserMember) SendOn(channel, text string) error {
	q, _ := json.Marshal(text)
	ch, _ := json.Marshal(channel)
	return b.send(fmt.Sprintf(`%s, {channel: %s}`, q, ch))
}
func (b *browserMember) Knows(channel string) bool {
	var v bool
	b.pg.Eval(fmt.Sprintf(`!!document.querySelector("p2p-frame").peer?.channels.has(%q)`, channel), &v)
	return v
}
func (b *browserMember) Rogue(channel, text string) {
	q, _ := json.Marshal(text)
	ch, _ := json.Marshal(channel)
	b.pg.Eval(fmt.Sprintf(`rogue(%s, %s)`, ch, q), nil)
}
func (b *browserMember) SendWhenNegotiating(id, text string) {
	q, _ := json.Marshal(text)
	b.pg.Eval(fmt.Sprintf(`conf.arm[%q] = %s`, id, q), nil)
}

// confLog logs to stderr with P2P_DEBUG=1.
func confLog() *slog.Logger {
	if os.Getenv("P2P_DEBUG") == "" {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
