// Package p2pstreams is a WebRTC signaling server for one-to-many
// peer-to-peer sessions: a Server is an http.Handler that browsers and Go
// peers open a WebSocket to, join a session (a room) with a signed token, and
// negotiate through. The first peer of a session is its host; every other peer
// connects directly to the host. The server only introduces peers: the data
// never passes through it.
//
// Quick start (the package Example runs it):
//
//	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: secret})
//	mux.Handle("/p2p/", srv) // signaling, and the browser client at /p2p/p2pstreams.js
//	tmpl := template.New("room").Funcs(srv.TemplateFuncs())
//	// in the page: {{p2pFrameStart .Frame}} … {{p2pFrameEnd}}, with .Frame a
//	// FrameOptions{Session: room, Peer: userID}, and a controller extending
//	// P2pController from /p2p/p2pstreams.js
//
// See ARCHITECTURE.md for the invariants and PROTOCOL.md for the wire format.
package p2pstreams

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gobwas/ws"

	"github.com/p2pstreams/p2pstreams/client"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// Options configure a Server. The zero value of every field but Secret means
// the default given in its comment.
type Options struct {
	// Secret signs and verifies tokens; at least 16 bytes, required. Use
	// RandomSecret for a server whose tokens need not survive a restart.
	Secret []byte

	// Store keeps sessions; nil means a new MemoryStore.
	Store Store
	// Broker delivers messages to peers; nil means a new MemoryBroker.
	Broker Broker

	// Logger receives the server's logs; nil means none.
	Logger *slog.Logger

	// OnEvent, if set, is called with each session event (events.go), one
	// at a time, on a goroutine of its own: a slow OnEvent delays later
	// events, never the server. Events that find EventQueue events waiting
	// are dropped and counted (Stats.EventsDropped).
	OnEvent func(Event)
	// EventQueue bounds the events waiting for OnEvent; default 1024.
	EventQueue int
	// MaxConns bounds the open WebSocket connections in all, and
	// MaxConnsPerIP those from one client IP (see ClientIP); 0 means no
	// bound. Over either, the upgrade is answered HTTP 503
	// too_many_connections.
	MaxConns      int
	MaxConnsPerIP int
	// TrustedProxies are the proxies whose X-Forwarded-For is believed for
	// the client IP; nil means none (the peer address is the client).
	TrustedProxies []netip.Prefix

	// RemovedFor is how long the joins of a peer removed by RemovePeer (or
	// of a session closed by CloseSession) are refused; default 24h. Make
	// it at least the lifetime of the tokens you issue.
	RemovedFor time.Duration

	// ICEServers, if set, returns the STUN and TURN servers, with fresh
	// credentials, that a peer joining session as peer with a token expiring
	// at tokenExpires may use (turnserver.Server.ICEServers and
	// turncred.Provider.ICEServers have this shape). Every SessionReady
	// carries them in "iceServers", before the frame config's ice_servers:
	// the joiner's own, and the host's when it hears of a joiner, so that
	// each new link gets credentials as fresh as the join. It is called
	// concurrently and must not block. Default: none, only the frame
	// config's ice_servers.
	ICEServers func(session SessionID, peer PeerID, tokenExpires time.Time) []ICEServer

	// AllowedOrigins lists the page origins ("https://example.com") that may
	// open a WebSocket; "*" allows any. Nil allows the server's own origin
	// and clients that send no Origin (non-browsers).
	AllowedOrigins []string

	// MaxMessageBytes bounds one signaling message; default 64 KiB.
	MaxMessageBytes int
	// MaxPeers bounds the members of a session, host included; default 128.
	MaxPeers int
	// SendQueueBytes bounds the bytes waiting to be written to one
	// connection; default 1 MiB, at least 2 × MaxMessageBytes. A connection
	// whose queue would pass it reads slower than it is sent to: it is
	// told slow_reader and closed (1008) within 2 s. N slow peers hold at
	// most N × SendQueueBytes.
	SendQueueBytes int
	// RateLimit is the messages per second one connection may send on
	// average; default 100. Negative means no limit.
	RateLimit float64
	// RateBurst is how many messages one connection may send at once; default 1000.
	RateBurst int
	// JoinTimeout is how long a new connection has to join; default 10s.
	JoinTimeout time.Duration
	// WriteTimeout is how long a write to one connection may make no
	// progress while bytes wait: then the peer is a slow reader (closed,
	// slow_reader). A write that makes progress gets another WriteTimeout.
	// Default 10s.
	WriteTimeout time.Duration
	// PingInterval paces the server's keepalive: a connection silent for
	// a PingInterval is pinged, and one that then stays silent for another
	// PingInterval is closed as dead, so a cut-off peer is closed 2 to 3
	// PingIntervals after the last frame it sent. One goroutine sweeps every
	// connection; idle ones hold no timer for it. Default 10s; negative: off.
	PingInterval time.Duration
	// StoreTimeout bounds each Store and Broker call; default 5s.
	StoreTimeout time.Duration
	// ProbeTimeout is how long a host has to answer HostProbe when a client
	// reported it unreachable (PROTOCOL.md, "Liveness") before its session
	// is reset; also the least time between two probes of one host and two
	// reports of one client. Default 2s.
	ProbeTimeout time.Duration
	// Lease is how long a peer's presence outlives its node without renewal:
	// a node that dies releases its hosts after at most Lease. The server
	// renews every Lease/3. Default 15s, or no leases (negative) when Store
	// is nil: a memory store dies with the process that renews it. The
	// lease is the backstop: a dead node's session heals as soon as one of
	// its clients reports the host unreachable or a peer joins it (see
	// ProbeTimeout). `p2pstreams serve --lease` sets it.
	Lease time.Duration
	// SuccessorWindow is how long a reset session waits for the successor
	// its host named (PROTOCOL.md, "Presence"): only the successor or the
	// old host may join it meanwhile. Default protocol.SuccessorWindow
	// (10s); negative: successors are not kept, the first peer back hosts.
	SuccessorWindow time.Duration
}

// RandomSecret returns a new random 32-byte secret.
func RandomSecret() []byte {
	b := make([]byte, 32)
	rand.Read(b)
	return b
}

// Server is the signaling server. Create it with NewServer; it is safe for
// concurrent use.
type Server struct {
	o      Options
	store  Store
	broker Broker
	log    *slog.Logger
	files  http.Handler

	mu      sync.Mutex
	conns   map[*conn]struct{}
	closing bool
	// With connection limits (limits.go): the places taken, in all and by
	// client IP, and each connection's IP.
	admitted int
	perIP    map[netip.Addr]int
	connIP   map[*conn]netip.Addr
	stop     chan struct{} // closed by Shutdown; ends the lease refresher and the ping sweep

	// refreshCtx bounds the lease refresher's store calls; cancelled by
	// Shutdown, which waits for refresherDone even when it cuts.
	refreshCtx    context.Context
	refreshCancel context.CancelFunc
	refresherDone chan struct{}

	epoch time.Time                  // clock's zero
	tick  atomic.Uint32              // the ping sweeps so far (see pingLoop)
	pub   atomic.Pointer[pubContext] // the routing context (see publishContext)

	wg     sync.WaitGroup // every goroutine the server started
	stats  stats
	events *eventQueue // nil without Options.OnEvent

	presMu   sync.Mutex
	presence map[SessionID]*presence // by session: its host's last PeerStates (presence.go)

	// The store's optional interfaces (cluster.go), or per-node stand-ins:
	// dir is nil when the store is no Directory.
	dir      Directory
	refusals Refusals
	changes  HostChanges
}

var errBufferedFrames = errors.New("frames before the handshake completed")

// ErrNoSecret is returned by NewServer without a usable Options.Secret.
var ErrNoSecret = errors.New("p2pstreams: Options.Secret must be at least 16 bytes (use RandomSecret for a per-process one)")

// NewServer returns a Server with the given options (nil is not allowed: a
// Secret is required).
func NewServer(o *Options) (*Server, error) {
	if o == nil || len(o.Secret) < token.MinSecretLength {
		return nil, ErrNoSecret
	}
	s := &Server{o: *o, conns: make(map[*conn]struct{}), stop: make(chan struct{})}
	s.o.Secret = append([]byte(nil), o.Secret...)
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&s.o.MaxMessageBytes, 64<<10)
	def(&s.o.MaxPeers, 128)
	def(&s.o.SendQueueBytes, 1<<20)
	s.o.SendQueueBytes = max(s.o.SendQueueBytes, 2*s.o.MaxMessageBytes)
	def(&s.o.RateBurst, 1000)
	if s.o.RateLimit == 0 {
		s.o.RateLimit = 100
	}
	defDur(&s.o.JoinTimeout, 10*time.Second)
	defDur(&s.o.WriteTimeout, 10*time.Second)
	defDur(&s.o.StoreTimeout, 5*time.Second)
	defDur(&s.o.RemovedFor, 24*time.Hour)
	defDur(&s.o.ProbeTimeout, 2*time.Second)
	if s.o.SuccessorWindow == 0 {
		s.o.SuccessorWindow = protocol.SuccessorWindow
	}
	if s.o.PingInterval == 0 {
		s.o.PingInterval = 10 * time.Second
	}
	s.epoch = time.Now()
	s.store, s.broker = o.Store, o.Broker
	if s.store == nil {
		s.store = NewMemoryStore()
		if s.o.Lease == 0 {
			s.o.Lease = -1
		}
	}
	if s.o.Lease == 0 {
		s.o.Lease = 15 * time.Second
	}
	if s.broker == nil {
		s.broker = NewMemoryBroker()
	}
	s.dir, _ = optional[Directory](s.store)
	if s.refusals, _ = optional[Refusals](s.store); s.refusals == nil {
		s.refusals = new(memRefusals)
	}
	if s.changes, _ = optional[HostChanges](s.store); s.changes == nil {
		s.changes = new(memHostChanges)
	}
	s.log = o.Logger
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.files = http.FileServerFS(client.FS)
	if o.OnEvent != nil {
		def(&s.o.EventQueue, 1024)
		s.events = newEventQueue(s.o.EventQueue, o.OnEvent)
	}
	s.refreshCtx, s.refreshCancel = context.WithCancel(context.Background())
	s.refresherDone = make(chan struct{})
	if s.o.Lease > 0 {
		s.wg.Add(1)
		go s.refreshLoop()
	} else {
		close(s.refresherDone)
	}
	if s.o.PingInterval > 0 {
		s.wg.Add(1)
		go s.pingLoop()
	}
	return s, nil
}

// Token issues a signed token that lets its holder join session as peer until
// ttl from now. config, if not nil, is marshalled to a JSON object and handed
// back to the peer when it joins (the frame config: ICE servers, heartbeat...).
func (s *Server) Token(session SessionID, peer PeerID, ttl time.Duration, config any) (string, error) {
	c := token.Claims{Session: session, Peer: peer, Expires: time.Now().Add(ttl).Unix()}
	if err := validConfig(config); err != nil {
		return "", fmt.Errorf("p2pstreams: config: %w", err)
	}
	if config != nil {
		b, err := json.Marshal(config)
		if err != nil {
			return "", fmt.Errorf("p2pstreams: config: %w", err)
		}
		if string(b) != "null" {
			c.Config = b
		}
	}
	return token.Issue(s.o.Secret, c)
}

// validConfig checks a token's config when it is a FrameConfig (an app's
// own map or struct is the app's business).
func validConfig(config any) error {
	switch c := config.(type) {
	case FrameConfig:
		return c.Validate()
	case *FrameConfig:
		if c != nil {
			return c.Validate()
		}
	}
	return nil
}

// ServeHTTP upgrades WebSocket requests to signaling connections, at any
// path. Other GET requests get the embedded browser client's files by name,
// so that mounting the server at /p2p/ serves /p2p/p2pstreams.js too.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !isUpgrade(r) {
		s.serveFile(w, r)
		return
	}
	if !s.originAllowed(r) {
		s.stats.refused(protocol.CodeOriginForbidden)
		http.Error(w, string(protocol.CodeOriginForbidden)+": origin not allowed", http.StatusForbidden)
		return
	}
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		http.Error(w, string(protocol.CodeServerShutdown)+": server is shutting down", http.StatusServiceUnavailable)
		return
	}
	var ip netip.Addr
	if s.limited() {
		var ok bool
		if ip, ok = s.admit(w, r); !ok {
			return
		}
	}
	nc, rw, _, err := ws.UpgradeHTTP(r, w)
	if err == nil && rw.Reader.Buffered() > 0 {
		// A client may not send frames before the handshake completes. Only
		// by refusing can the buffered reader be dropped: idle connections
		// keep no buffers (see ARCHITECTURE.md).
		nc.Close()
		err = errBufferedFrames
	}
	var c *conn
	if err == nil {
		c = newConn(s, nc)
		if !s.add(c) {
			nc.Close()
			c = nil
		} else if s.limited() {
			s.bindIP(c, ip) // before its reader starts: remove gives the place back
		}
	}
	if c == nil { // the upgrader answered the client, or we closed
		if s.limited() {
			s.release(ip)
		}
		return
	}
	s.log.Debug("connection opened", "remote", r.RemoteAddr)
	// A fresh goroutine, not this one: its stack starts small, and the
	// HTTP server's goroutine and buffers are released as we return.
	go c.readLoop()
}

func isUpgrade(r *http.Request) bool {
	return strings.EqualFold(r.Header.Get("Upgrade"), "websocket")
}

// serveFile serves the client file named by the end of the path: the
// longest suffix of the path that names an embedded file.
func (s *Server) serveFile(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := strings.TrimPrefix(r.URL.Path, "/")
	for p != "" {
		if st, err := fs.Stat(client.FS, p); err == nil && !st.IsDir() {
			r2 := r.Clone(r.Context())
			r2.URL.Path = "/" + p
			setClientFileHeaders(w.Header(), p)
			s.files.ServeHTTP(w, r2)
			return
		}
		_, rest, ok := strings.Cut(p, "/")
		if !ok {
			break
		}
		p = rest
	}
	http.NotFound(w, r)
}

func (s *Server) originAllowed(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if s.o.AllowedOrigins == nil {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	for _, o := range s.o.AllowedOrigins {
		if o == "*" || strings.EqualFold(o, origin) {
			return true
		}
	}
	return false
}

func (s *Server) add(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1) // the reader; done in conn.finish
	s.stats.connections.Add(1)
	s.stats.accepted.Add(1)
	return true
}

func (s *Server) remove(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if ip, ok := s.connIP[c]; ok {
		delete(s.connIP, c)
		s.releaseLocked(ip)
	}
	s.mu.Unlock()
	s.stats.connections.Add(-1)
}

func (s *Server) snapshot() []*conn {
	s.mu.Lock()
	defer s.mu.Unlock()
	cs := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		cs = append(cs, c)
	}
	return cs
}

// refreshLoop renews the presence lease of every joined connection every
// Lease/3, and tells a connection whose membership was lost (its session
// was reset elsewhere, or its lease ran out) that its host is gone.
func (s *Server) refreshLoop() {
	defer s.wg.Done()
	defer close(s.refresherDone)
	t := time.NewTicker(s.o.Lease / 3)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.refreshRound()
	}
}

// pingLoop is the server's keepalive, one goroutine for every connection
// (no timer per connection): each PingInterval it pings the connections
// it heard nothing from since the last sweep, and closes those pinged at
// the last sweep that sent nothing since (see conn.keepalive).
func (s *Server) pingLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.o.PingInterval)
	defer t.Stop()
	var last time.Time
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		if time.Since(last) < s.o.PingInterval/2 {
			// A tick that waited in the channel while this goroutine was
			// late (a stalled process): a sweep now would leave a peer
			// pinged at the last one only milliseconds to answer.
			continue
		}
		e := s.tick.Add(1)
		for _, c := range s.snapshot() {
			c.keepalive(e)
		}
		last = time.Now()
	}
}

// clock is the server's monotonic time, in nanoseconds since it started.
func (s *Server) clock() int64 { return int64(time.Since(s.epoch)) }

// pubContext is a context for Publish calls on the routing path.
type pubContext struct {
	ctx    context.Context
	cancel context.CancelFunc // never called: the context ends at its deadline
	renew  time.Time
}

// publishContext returns a context bounded by StoreTimeout for routing's
// Publish calls. One is shared by every connection and renewed every
// StoreTimeout/2, so that each call has between StoreTimeout/2 and
// StoreTimeout, and routing needs no timer per message.
func (s *Server) publishContext() context.Context {
	p := s.pub.Load()
	if p != nil && time.Now().Before(p.renew) {
		return p.ctx
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.o.StoreTimeout)
	n := &pubContext{ctx: ctx, cancel: cancel, renew: time.Now().Add(s.o.StoreTimeout / 2)}
	if !s.pub.CompareAndSwap(p, n) {
		cancel()
		return s.pub.Load().ctx
	}
	return ctx
}

// Shutdown tells every connection that the server is going away
// (ServerShutdown, with the seconds left until ctx's deadline), closes them
// with code 1001, and returns when every connection has ended, or with
// ctx's error when ctx ends first (the remaining connections are then cut).
// New connections are refused from the start. Shutdown does not close the
// Store or the Broker, which the caller owns.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.stop)
		s.refreshCancel()
	}
	s.mu.Unlock()
	secs := 0
	if dl, ok := ctx.Deadline(); ok {
		secs = max(0, int(time.Until(dl)/time.Second))
	}
	notice := protocol.Encode(&protocol.Message{State: protocol.ServerShutdown, Seconds: secs})
	for _, c := range s.snapshot() {
		c.send(notice)
		c.closeWith(ws.StatusGoingAway, protocol.CodeServerShutdown, "the server is shutting down")
	}
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.closeEvents(ctx.Done())
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		for _, c := range s.snapshot() {
			c.nc.Close()
		}
		<-s.refresherDone // its store call has a cancelled context
		return ctx.Err()
	}
}

// Stats are counters since the server started.
type Stats struct {
	Connections   int64            // open WebSocket connections now
	Accepted      int64            // WebSocket connections accepted
	Joins         int64            // successful SessionJoins
	Hosts         int64            // joins that made the joiner host
	Relayed       int64            // routed messages delivered
	RelayedBytes  int64            // bytes of the routed messages delivered, as sent on
	Peers         int64            // connections joined to a session now
	Sessions      int64            // sessions whose host is connected to this server now
	SlowClosed    int64            // connections closed as slow readers
	RateLimited   int64            // messages dropped over the rate limit
	FloodClosed   int64            // connections closed for flooding
	DeadClosed    int64            // connections closed by the keepalive (no pong in time)
	HostResets    int64            // sessions reset because their host was unreachable
	HostChecks    int64            // HostCheck questions answered (a suspecting client's, see probe.go)
	EventsDropped int64            // events dropped because OnEvent's queue was full
	Errors        map[string]int64 // refused inputs, by protocol code (one per Error or close sent; rate_limited once per coalesced Error)
}

type stats struct {
	connections, accepted, joins, hosts, relayed, slow atomic.Int64
	relayedBytes, peers, hosting, hostResets           atomic.Int64
	rateLimited, flood, dead, hostChecks               atomic.Int64
	mu                                                 sync.Mutex
	errors                                             map[protocol.Code]int64
}

// member counts mb joining (d = 1) or ending (d = -1) on this server.
func (st *stats) member(mb *membership, d int64) {
	st.peers.Add(d)
	if mb.host == mb.peer {
		st.hosting.Add(d)
	}
}

func (st *stats) refused(code protocol.Code) {
	st.mu.Lock()
	if st.errors == nil {
		st.errors = make(map[protocol.Code]int64)
	}
	st.errors[code]++
	st.mu.Unlock()
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	st := &s.stats
	out := Stats{
		Connections: st.connections.Load(), Accepted: st.accepted.Load(),
		Joins: st.joins.Load(), Hosts: st.hosts.Load(), Relayed: st.relayed.Load(),
		SlowClosed: st.slow.Load(), RateLimited: st.rateLimited.Load(), FloodClosed: st.flood.Load(),
		DeadClosed: st.dead.Load(), HostResets: st.hostResets.Load(), HostChecks: st.hostChecks.Load(), Errors: make(map[string]int64),
		EventsDropped: s.eventsDropped(), RelayedBytes: st.relayedBytes.Load(), Peers: st.peers.Load(), Sessions: st.hosting.Load(),
	}
	st.mu.Lock()
	for k, v := range st.errors {
		out.Errors[string(k)] = v
	}
	st.mu.Unlock()
	return out
}
