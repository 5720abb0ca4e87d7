package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// Peer is a member of a p2pstreams session: its host, or a client of the
// host. Its methods are safe for concurrent use.
type Peer struct {
	cfg Config
	log *slog.Logger

	inbox  *queue[event]    // everything the loop handles
	events *queue[callback] // for the dispatcher; nil when there are no callbacks

	ctx    context.Context // the Peer's life; canceled by Close
	cancel context.CancelFunc

	ready        chan struct{} // closed when first connected
	readyOnce    sync.Once
	done         chan struct{} // closed when stopped (all but a running callback)
	dispatchDone chan struct{} // closed when the dispatcher returned
	stopDispatch atomic.Bool   // Close: deliver nothing more
	inCallback   atomic.Bool
	mute         atomic.Bool             // tests: send no heartbeat and answer no HostProbe, as a frozen peer
	slowRead     atomic.Int64            // tests: nanoseconds to take per DataChannel message read
	glares       atomic.Int64            // tests: renegotiation offers that crossed
	heals        atomic.Int64            // tests: links healed
	wg           sync.WaitGroup          // signal readers and link closers
	slowDrops    atomic.Int64            // host: clients dropped as too slow
	live         sync.Map                // PeerID → *link: the live links, for Stats
	fanout       atomic.Pointer[[]*link] // host: its open client links, for pacing Send (pace.go)
	hostPending  atomic.Int64            // host: bytes of its own Sends not yet relayed

	mu         sync.Mutex // guards the snapshot below, read by the methods
	id         protocol.PeerID
	session    protocol.SessionID
	state      State
	isHost     bool
	hostID     protocol.PeerID
	peers      map[protocol.PeerID]State
	sendLink   *link // a client's open link to its host, for Send
	maxMessage int   // the largest Data payload Send takes
	err        error // why the Peer ended
	lastErr    error // why the last round ended, for Join's timeout error

	// Owned by the loop goroutine (loop.go): no lock, and no other
	// goroutine reads them. What only one role uses is in host or client,
	// both reset at the start of each round (round); what outlives a round
	// is here or in handoff.
	sig          *signal
	set          settings
	joined       bool
	host         hostRole   // the host's side of this round (host.go)
	client       clientRole // the client's side of this round (client.go)
	handoff      handoff    // host changes and the state hand-off, across rounds (handoff.go)
	reportedAt   time.Time  // host: when it last sent the map to the server (PeerStates)
	joinAt       time.Time
	backlog      []event // events left over when a round ended
	wasConnected bool    // this round reached StateConnected
	failoverOn   bool
	suspect      protocol.PeerID     // the host the last round lost: report it if the server names it again
	media        media               // tracks sent, received and forwarded (media.go)
	cert         *webrtc.Certificate // DTLS, shared by this Peer's links
	certc        chan certResult     // makeCert's result, taken by the first link
	chans        channels            // named channels (channels.go)
}

type callback struct {
	msg   *Message
	track *Track
	state State
	peers map[protocol.PeerID]State
	err   error
	raw   json.RawMessage    // cbRestore
	link  *link              // cbSnapshot: the client to send it to (nil: all)
	seq   uint64             // cbSnapshot: the messages relayed before it
	hosts [2]protocol.PeerID // cbHostChange: previous, current
	fn    func()             // cbCall
	kind  uint8              // cbMessage, cbState, cbPeers, cbError, cbHostChange, cbRestore
}

const (
	cbMessage uint8 = iota
	cbState
	cbPeers
	cbError
	cbHostChange
	cbRestore
	cbSnapshot // call HostState (the state hand-off)
	cbTrack
	cbCall // run fn
)

// Join joins the session named by cfg.Token through the signaling server
// at cfg.URL, and returns once the Peer can Send: as the host, when it has
// joined; as a client, when its DataChannel to the host is open. The first
// peer in a session becomes its host (the server decides).
//
// ctx bounds joining only. If it ends first, Join closes the Peer and
// returns ctx's error with the last failure. With failover on (the
// default), Join keeps trying through failures that may pass (server not
// up yet, host leaving while negotiating); it returns at once when the
// server refuses the token (a *protocol.CodeError).
func Join(ctx context.Context, cfg Config) (*Peer, error) {
	if cfg.URL == "" || cfg.Token == "" {
		return nil, errors.New("peer: Config.URL and Config.Token are required")
	}
	p := newPeer(cfg)
	go p.run()
	select {
	case <-p.ready:
		return p, nil
	case <-p.done:
		return nil, p.Err()
	case <-ctx.Done():
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p.Close(cctx)
	p.mu.Lock()
	last := p.lastErr
	p.mu.Unlock()
	if last != nil {
		return nil, fmt.Errorf("peer: join: %w (last failure: %w)", ctx.Err(), last)
	}
	return nil, fmt.Errorf("peer: join: %w", ctx.Err())
}

func newPeer(cfg Config) *Peer {
	p := &Peer{
		cfg: cfg, log: cfg.Logger,
		inbox: newQueue[event](),
		ready: make(chan struct{}), done: make(chan struct{}), dispatchDone: make(chan struct{}),
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if c, err := token.Peek(cfg.Token); err == nil { // else the server refuses it with bad_token
		p.session, p.id = c.Session, c.Peer
	}
	p.failoverOn = p.cfg.failoverBeforeJoin()
	p.maxMessage = protocol.DefaultMaxMessageSize
	if c, err := token.Peek(cfg.Token); err == nil {
		if fc, err := protocol.ParseFrameConfig(c.Config); err == nil {
			p.maxMessage = fc.MaxMessageSize
		}
	}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	if cfg.OnMessage != nil || cfg.OnState != nil || cfg.OnPeers != nil || cfg.OnError != nil || cfg.OnHostChange != nil || cfg.OnRestoreState != nil || cfg.HostState != nil || cfg.OnTrack != nil || cfg.OnKeyframeRequest != nil {
		p.events = newQueue[callback]()
		go p.dispatch()
	} else {
		close(p.dispatchDone)
	}
	return p
}

// ID returns the peer's id (from its token).
func (p *Peer) ID() protocol.PeerID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}

// SessionID returns the session's id (from its token).
func (p *Peer) SessionID() protocol.SessionID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.session
}

// IsHost reports whether the peer is the session's host now. It changes
// only through failover.
func (p *Peer) IsHost() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.isHost
}

// HostID returns the id of the session's host as of the last join ("" while
// rejoining).
func (p *Peer) HostID() protocol.PeerID {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hostID
}

// State returns the peer's own state.
func (p *Peer) State() State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state
}

// Peers returns a copy of the last map of every peer's state: the host's
// own map on the host, the last one received on a client.
func (p *Peer) Peers() map[protocol.PeerID]State {
	p.mu.Lock()
	defer p.mu.Unlock()
	return maps.Clone(p.peers)
}

// Done is closed when the Peer has stopped: after Close, or when it ended by
// itself (see Err). Callbacks queued before may still be running.
func (p *Peer) Done() <-chan struct{} { return p.done }

// Err returns why the Peer ended: nil while it runs, ErrClosed after Close,
// ErrHostLeft or ErrDisconnected when it lost its host without failover, or
// the *protocol.CodeError that refused it for good (bad_token, token_expired,
// session_full, session_expired, origin_forbidden).
func (p *Peer) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Send sends data as a Data message to every peer of the session, this one
// included: a client sends it to the host, which relays it to everyone; the
// host delivers it to itself and to every client. A []byte is sent as a
// binary message (a browser gets a Uint8Array); anything else is marshalled
// with encoding/json (a json.RawMessage is sent as is). A message of any
// size up to the frame config's maxMessageSize (16 MiB by default) goes,
// in chunks when it is large; a bigger one is refused with a
// *protocol.CodeError (message_too_large).
//
// Delivered or reported: Send returns nil only when the message was handed
// to the DataChannel (a client) or to the relay (the host); a host that
// refuses a client's message afterwards tells it, and OnError gets that.
//
// On a client, Send waits only while its DataChannel's send queue is full
// (over protocol.SendHighWater), until it drains or ctx ends; it returns
// ErrNotConnected while the client has no open DataChannel. On the host,
// Send is paced by the fastest client: it waits while the host's messages
// not yet relayed plus the send queue of its least-queued open client pass
// protocol.SendHighWater, until that drains or ctx ends (ctx's error: the
// message was not sent). So a burst never drops a client that keeps up;
// the relay still drops a client slower than that (protocol.RelayMaxQueued,
// RelayMaxHeld) rather than buffer without bound or stall the others.
//
// While a client's link heals (see Config.HealTimeout), Send queues the
// message (up to protocol.HealMaxHeld, then ErrQueueFull) and returns nil:
// queued messages go out in order once the link is healed, or are
// reported to OnError as ErrMessagesLost if it is lost instead.
func (p *Peer) Send(ctx context.Context, data any) error {
	raw, bin, st, host, l, err := p.outgoing(data)
	if err != nil {
		return err
	}
	switch {
	case st.Final():
		return ErrClosed
	case host:
		if err := p.hostRoom(ctx); err != nil {
			return err
		}
		if bin != nil {
			bin = bytes.Clone(bin) // the relay runs after Send returns
		}
		n := int64(len(raw) + len(bin))
		p.hostPending.Add(n)
		if !p.inbox.push(event{kind: evSend, data: raw, bin: bin}) {
			p.hostPending.Add(-n)
			return ErrClosed
		}
		return nil
	case l == nil:
		return ErrNotConnected
	}
	pieces := ownPieces(raw, bin)
	if held, err := l.hold(pieces); held {
		return err
	}
	return l.send(ctx, pieces)
}

// ownPieces chunks a client's own message (a Send's data, JSON or binary)
// for its link to the host; the host stamps the sender.
func ownPieces(raw json.RawMessage, bin []byte) []piece {
	if bin != nil {
		return chunkBinary(encodeBinaryHeader(""), bin)
	}
	return chunkText(encodeData(raw))
}

// outgoing marshals the data of a Send, checks its size, and returns it
// with what Send needs to know of the peer: its state, whether it hosts,
// and a client's link.
func (p *Peer) outgoing(data any) (raw json.RawMessage, bin []byte, st State, host bool, l *link, err error) {
	raw, bin, err = marshalData(data)
	if err != nil {
		return
	}
	p.mu.Lock()
	st, host, l, limit := p.state, p.isHost, p.sendLink, p.maxMessage
	p.mu.Unlock()
	if n := len(raw) + len(bin); n > limit {
		err = &protocol.CodeError{Code: protocol.CodeTooLarge, Text: fmt.Sprintf("a message of %d bytes; the maximum is %d", n, limit)}
	}
	return
}

// SlowDrops returns how many clients this peer, as a host, dropped because
// they could not keep up with the relay (protocol.RelayMaxQueued).
func (p *Peer) SlowDrops() int64 { return p.slowDrops.Load() }

// Close leaves the session and stops the Peer: a joined peer sends
// SessionLeave (a host leaving resets the session: its clients see
// HostLeft), then it closes its connections and waits for its goroutines,
// or until ctx ends. After Close returns no callback starts; one running at
// that moment (such as the one calling Close) finishes by itself. Close is
// idempotent; it returns nil once the Peer has stopped.
func (p *Peer) Close(ctx context.Context) error {
	p.stopDispatch.Store(true)
	p.cancel()
	select {
	case <-p.done:
	case <-ctx.Done():
		return ctx.Err()
	}
	if p.inCallback.Load() {
		return nil
	}
	select {
	case <-p.dispatchDone:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dispatch runs the callbacks, one at a time, in order.
func (p *Peer) dispatch() {
	defer close(p.dispatchDone)
	for {
		batch, closed := p.events.take()
		if len(batch) == 0 {
			if closed {
				return
			}
			<-p.events.wake
			continue
		}
		for _, c := range batch {
			if p.stopDispatch.Load() {
				return
			}
			p.inCallback.Store(true)
			switch c.kind {
			case cbMessage:
				p.cfg.OnMessage(*c.msg)
			case cbState:
				p.cfg.OnState(c.state)
			case cbPeers:
				p.cfg.OnPeers(c.peers)
			case cbError:
				p.cfg.OnError(c.err)
			case cbHostChange:
				p.cfg.OnHostChange(c.hosts[0], c.hosts[1])
			case cbRestore:
				p.cfg.OnRestoreState(c.raw)
			case cbSnapshot:
				p.takeHostState(c)
			case cbTrack:
				p.cfg.OnTrack(*c.track)
			case cbCall:
				c.fn()
			}
			p.inCallback.Store(false)
		}
	}
}

func (p *Peer) emitMessage(from protocol.PeerID, data json.RawMessage, bin []byte) {
	if p.events != nil && p.cfg.OnMessage != nil {
		p.events.push(callback{kind: cbMessage, msg: &Message{From: from, Data: data, Binary: bin}})
	}
}

// push queues a callback of the given kind if the app has one.
func (p *Peer) push(c callback, has bool) {
	if p.events != nil && has {
		p.events.push(c)
	}
}

// emitError reports err to OnError (and to the log).
func (p *Peer) emitError(err error) {
	p.log.Warn("p2pstreams: peer error", "peer", p.id, "err", err)
	if p.events != nil && p.cfg.OnError != nil {
		p.events.push(callback{kind: cbError, err: err})
	}
}

// setState records the peer's own state and tells OnState on a change.
func (p *Peer) setState(s State) {
	p.mu.Lock()
	old := p.state
	if old == s || old.Final() { // a final state is never left
		p.mu.Unlock()
		return
	}
	p.state = s
	p.mu.Unlock()
	if !old.canBecome(s) { // a bug: tests check every transition
		p.log.Warn("p2pstreams: unexpected state change", "peer", p.id, "from", old, "to", s)
	}
	p.log.Debug("p2pstreams: state", "peer", p.id, "state", s)
	if p.events != nil && p.cfg.OnState != nil {
		p.events.push(callback{kind: cbState, state: s})
	}
}

// setPeers records the map of peer states and tells OnPeers.
func (p *Peer) setPeers(m map[protocol.PeerID]State) {
	p.mu.Lock()
	p.peers = m
	p.mu.Unlock()
	if p.events != nil && p.cfg.OnPeers != nil {
		p.events.push(callback{kind: cbPeers, peers: maps.Clone(m)})
	}
}

func (p *Peer) markReady() { p.readyOnce.Do(func() { close(p.ready) }) }
