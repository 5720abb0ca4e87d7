package peer

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Named channels (PROTOCOL.md, "Named channels"): DataChannels next to the
// default one, opened by name with their own delivery options (a lossy,
// unordered one for game state, say), relayed by the host like the default
// channel. The host opens every channel it knows on every link, in-band
// (the DataChannel's DCEP open carries the label and the options; no SDP
// renegotiation): those its app opened, those a client declared
// (Negotiation.Channel over the default channel), and, after a host
// change, those it learned as a client from the old host. A client knows
// every channel its host opens to it.

// ChannelOptions are a named channel's delivery options; the zero value is
// a reliable, ordered channel (as the default one).
type ChannelOptions struct {
	// Unordered lets messages arrive out of order. Default false: in order.
	Unordered bool
	// MaxRetransmits, when set (0-65535), makes the channel lossy: a
	// message is retransmitted at most that many times (0: sent once).
	MaxRetransmits *int
	// MaxPacketLifeTime, when set (0-65535 milliseconds), makes the
	// channel lossy: a message is retransmitted for at most that long. At
	// most one of MaxRetransmits and MaxPacketLifeTime may be set.
	MaxPacketLifeTime *int
}

func (o ChannelOptions) spec(name string) protocol.ChannelSpec {
	s := protocol.ChannelSpec{Name: name, MaxRetransmits: o.MaxRetransmits, MaxPacketLifeTime: o.MaxPacketLifeTime}
	if o.Unordered {
		f := false
		s.Ordered = &f
	}
	return s
}

// Channel is a named channel of a Peer (OpenChannel). Messages on it reach
// OnMessage with Message.Channel set to its name.
type Channel struct {
	p    *Peer
	spec protocol.ChannelSpec
}

// Name returns the channel's name.
func (c *Channel) Name() string { return c.spec.Name }

// OpenChannel opens the named channel on every link of the session, those
// made later (late joiners, a new host after a host change) too: on the
// host at once; a client declares it to its host, which opens it on every
// link. name is 1-64 ASCII letters, digits, '-', '_' or '.', and not the
// default channel's label; a bad name or option, or a name open already
// with other options, is refused with a *protocol.CodeError (bad_channel).
// Opening a channel again with the same options returns it again.
func (p *Peer) OpenChannel(name string, opts ChannelOptions) (*Channel, error) {
	s := opts.spec(name)
	if err := s.Validate(); err != nil {
		return nil, err
	}
	err := p.onLoop(func() error { return p.declare(s, nil) })
	if err != nil {
		return nil, err
	}
	return &Channel{p: p, spec: s}, nil
}

// Send sends data on the channel to every peer of the session, this one
// included, as Peer.Send does on the default channel (the same kinds of
// data, the same maximum size), with these differences: a client waits
// (until ctx ends) for its host to open the channel to it; a message on an
// unordered or lossy channel must fit in one chunk (protocol.ChunkSize
// bytes as sent) or it is refused (message_too_large); and while a link
// heals nothing is held (SCTP delivers what it can once the path is back).
func (c *Channel) Send(ctx context.Context, data any) error {
	p := c.p
	raw, bin, st, host, l, err := p.outgoing(data)
	if err != nil {
		return err
	}
	switch {
	case st.Final():
		return ErrClosed
	case host:
		if bin != nil {
			bin = slices.Clone(bin) // the relay runs after Send returns
		}
		return p.onLoop(func() error {
			if !p.isHostNow() {
				return ErrNotConnected
			}
			return p.relayNamed(p.id, c.spec.Name, raw, bin)
		})
	case l == nil:
		return ErrNotConnected
	}
	pieces := ownPieces(raw, bin)
	if err := fitsChannel(c.spec, pieces); err != nil {
		return err
	}
	nc := p.chans.record(l, c.spec.Name)
	select {
	case <-nc.opened:
	case <-l.gone:
		return ErrNotConnected
	case <-ctx.Done():
		return fmt.Errorf("peer: channel %q not open: %w", c.spec.Name, ctx.Err())
	}
	return sendOn(ctx, nc.dc, nc.low, l.gone, &nc.sendMu, pieces)
}

// fitsChannel refuses a message of more than one chunk on a channel that
// may lose or reorder chunks.
func fitsChannel(s protocol.ChannelSpec, pieces []piece) error {
	if len(pieces) > 1 && !s.Reliable() {
		return &protocol.CodeError{Code: protocol.CodeTooLarge, Text: fmt.Sprintf("channel %q is unordered or lossy: a message must fit in %d bytes", s.Name, protocol.ChunkSize)}
	}
	return nil
}

// channels is a Peer's named-channel state. specs is guarded by mu and
// kept across rounds (a client that becomes the host opens what it
// learned); links holds each link's channels, guarded by mu too (Send and
// pion's callbacks read it).
type channels struct {
	mu    sync.Mutex
	specs map[string]protocol.ChannelSpec
	links map[*link]map[string]*namedChan
}

// namedChan is one named channel on one link.
type namedChan struct {
	spec   protocol.ChannelSpec
	dc     *webrtc.DataChannel // set before opened is closed
	known  bool                // the host opened it (on the host: this peer did)
	opened chan struct{}       // closed when dc is open
	low    chan struct{}       // capacity 1: dc went below protocol.SendLowWater
	sendMu sync.Mutex          // a client's Send: one message's chunks together
	rs     reassembler         // pion's reading goroutine

	// The host's loop only: relayed messages held until dc opens.
	isOpen    bool
	outbox    []piece
	held      int
	heldBytes int
}

// record returns l's channel name, making an empty one (not open, not
// known) for a Send or a relay that comes before the DataChannel.
func (c *channels) record(l *link, name string) *namedChan {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.links == nil {
		c.links = map[*link]map[string]*namedChan{}
	}
	m := c.links[l]
	if m == nil {
		m = map[string]*namedChan{}
		c.links[l] = m
	}
	nc := m[name]
	if nc == nil {
		nc = &namedChan{opened: make(chan struct{}), low: make(chan struct{}, 1)}
		m[name] = nc
	}
	return nc
}

func (c *channels) lookup(l *link, name string) *namedChan {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.links[l][name]
}

// declare adds s to the channels this peer knows (loop goroutine). The
// host opens it on every link; a client tells its host. from is the
// client that declared it (nil: this peer's app).
func (p *Peer) declare(s protocol.ChannelSpec, from *link) error {
	p.chans.mu.Lock()
	old, had := p.chans.specs[s.Name]
	if !had {
		if p.chans.specs == nil {
			p.chans.specs = map[string]protocol.ChannelSpec{}
		}
		p.chans.specs[s.Name] = s
	}
	p.chans.mu.Unlock()
	if had {
		if !old.Equal(s) {
			return &protocol.CodeError{Code: protocol.CodeBadChannel, Text: fmt.Sprintf("channel %q is open with other options", s.Name)}
		}
		if from == nil {
			return nil
		}
	}
	if p.isHostNow() {
		for _, l := range p.host.links {
			p.createNamed(l, s)
		}
		return nil
	}
	if l := p.client.toHost; l != nil && l.open && from == nil {
		p.sendDeclaration(l, s)
	}
	return nil
}

func (p *Peer) sendDeclaration(l *link, s protocol.ChannelSpec) {
	data, _ := json.Marshal(s)
	b, _ := json.Marshal(wire{Type: protocol.MsgChannel, Data: data})
	p.sendText(l, string(b))
}

// openNamed is newLink's part (loop goroutine): the host opens every
// channel it knows on the new link, before its offer; and the channels of
// links that ended are forgotten.
func (p *Peer) openNamed(l *link, offerer bool) {
	p.chans.mu.Lock()
	for old := range p.chans.links {
		if old.closed {
			delete(p.chans.links, old)
		}
	}
	specs := slices.Collect(maps.Values(p.chans.specs))
	p.chans.mu.Unlock()
	if !offerer {
		return
	}
	for _, s := range specs {
		p.createNamed(l, s)
	}
}

// createNamed opens s on l (the host), unless l has it already.
func (p *Peer) createNamed(l *link, s protocol.ChannelSpec) {
	if nc := p.chans.lookup(l, s.Name); nc != nil && nc.dc != nil {
		return
	}
	init := &webrtc.DataChannelInit{}
	if s.Ordered != nil {
		init.Ordered = s.Ordered
	}
	if s.MaxRetransmits != nil {
		v := uint16(*s.MaxRetransmits)
		init.MaxRetransmits = &v
	}
	if s.MaxPacketLifeTime != nil {
		v := uint16(*s.MaxPacketLifeTime)
		init.MaxPacketLifeTime = &v
	}
	dc, err := l.pc.CreateDataChannel(s.Name, init)
	if err != nil {
		p.log.Warn("p2pstreams: open named channel", "peer", l.remote, "channel", s.Name, "err", err)
		return
	}
	p.attachNamed(l, dc, s, true)
}

// watchNamed takes a DataChannel the remote opened (pion's goroutine). On
// a client it is a channel of its host's: known, and remembered for when
// this peer hosts. On the host it is a channel a client opened by itself:
// what comes on it is reported (unknown_channel), never relayed.
func (p *Peer) watchNamed(l *link, dc *webrtc.DataChannel) {
	s := specOf(dc)
	known := l.polite && s.Validate() == nil // the client's side (polite) takes its host's channels
	if known {
		p.chans.mu.Lock()
		if _, ok := p.chans.specs[s.Name]; !ok {
			if p.chans.specs == nil {
				p.chans.specs = map[string]protocol.ChannelSpec{}
			}
			p.chans.specs[s.Name] = s
		}
		p.chans.mu.Unlock()
	}
	p.attachNamed(l, dc, s, known)
}

// specOf reads a DataChannel's name and options.
func specOf(dc *webrtc.DataChannel) protocol.ChannelSpec {
	s := protocol.ChannelSpec{Name: dc.Label()}
	if !dc.Ordered() {
		f := false
		s.Ordered = &f
	}
	if v := dc.MaxRetransmits(); v != nil {
		n := int(*v)
		s.MaxRetransmits = &n
	}
	if v := dc.MaxPacketLifeTime(); v != nil {
		n := int(*v)
		s.MaxPacketLifeTime = &n
	}
	return s
}

// attachNamed sets up dc as l's channel s.Name.
func (p *Peer) attachNamed(l *link, dc *webrtc.DataChannel, s protocol.ChannelSpec, known bool) {
	var nc *namedChan
	if known {
		nc = p.chans.record(l, s.Name)
		if nc.dc != nil { // a second channel of one name: only the first counts
			known = false
		}
	}
	if !known {
		nc = &namedChan{opened: make(chan struct{}), low: make(chan struct{}, 1)}
	}
	p.chans.mu.Lock()
	nc.spec, nc.dc, nc.known = s, dc, known
	p.chans.mu.Unlock()
	dc.SetBufferedAmountLowThreshold(protocol.SendLowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case nc.low <- struct{}{}:
		default:
		}
	})
	dc.OnOpen(func() {
		select {
		case <-nc.opened: // re-established: open already
			return
		default:
			close(nc.opened)
		}
		p.inbox.push(event{kind: evCall, fn: func() { p.namedOpen(l, nc) }})
	})
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		l.seen()
		w, err := receiveOn(&nc.rs, m)
		if w.Type == "" && err == nil {
			return
		}
		if err != nil {
			p.log.Warn("p2pstreams: dropping an unreadable peer message", "from", l.remote, "channel", s.Name, "err", err)
			return
		}
		p.inbox.push(event{kind: evCall, fn: func() { p.namedData(l, nc, w) }})
	})
}

// current reports whether l is this peer's link now (loop goroutine).
func (p *Peer) current(l *link) bool {
	if l.closed {
		return false
	}
	if p.isHostNow() {
		return p.host.links[l.remote] == l
	}
	return p.client.toHost == l
}

// namedOpen: the host sends what it held for l on the channel.
func (p *Peer) namedOpen(l *link, nc *namedChan) {
	if !p.current(l) || !p.isHostNow() || !nc.known {
		return
	}
	nc.isOpen = true
	out := nc.outbox
	nc.outbox, nc.held, nc.heldBytes = nil, 0, 0
	if !p.sendPiecesOn(l, nc.dc, out) {
		p.dropSlow(l.remote)
	}
}

// namedData handles a message on a named channel (loop goroutine).
func (p *Peer) namedData(l *link, nc *namedChan, w wire) {
	if !p.current(l) || w.Type != typeData {
		return
	}
	name := nc.spec.Name
	host := p.isHostNow()
	if !nc.known {
		// Delivered or reported: neither the app nor the other peers get it.
		err := &protocol.CodeError{Code: protocol.CodeUnknownChannel, Text: fmt.Sprintf("%s sent a message on channel %q, which this peer did not open", l.remote, name)}
		p.emitError(err)
		if host {
			p.sendText(l, encodeError(err.Code, err.Text))
		}
		return
	}
	if !host {
		p.emitNamed(w.SenderID, name, w.Data, w.Binary)
		return
	}
	if n := len(w.Data) + len(w.Binary); w.tooLarge || n > p.set.maxMessage {
		p.sendText(l, encodeError(protocol.CodeTooLarge, "the host refused a message over its maximum size"))
		return
	}
	if err := p.relayNamed(l.remote, name, w.Data, w.Binary); err != nil {
		p.sendText(l, encodeError(protocol.CodeOf(err), err.Error()))
	}
}

// relayNamed delivers a message on channel name to the host itself and to
// every client, the sender included; a client whose channel is not open
// yet gets it when it opens. A client that cannot keep up is dropped, as
// on the default channel.
func (p *Peer) relayNamed(from protocol.PeerID, name string, data json.RawMessage, bin []byte) error {
	var pieces []piece
	if bin != nil {
		pieces = chunkBinary(encodeBinaryHeader(from), bin)
	} else {
		pieces = chunkText(encodeRelay(from, data))
	}
	p.chans.mu.Lock()
	s, ok := p.chans.specs[name]
	p.chans.mu.Unlock()
	if !ok {
		return &protocol.CodeError{Code: protocol.CodeUnknownChannel, Text: fmt.Sprintf("channel %q is not open", name)}
	}
	if err := fitsChannel(s, pieces); err != nil {
		return err
	}
	p.emitNamed(from, name, data, bin)
	limit := p.relayLimit()
	var slow []protocol.PeerID
	for id, l := range p.host.links {
		nc := p.chans.lookup(l, name)
		if nc == nil || nc.dc == nil {
			continue // its DataChannel could not be made (logged by createNamed)
		}
		if !nc.isOpen {
			nc.outbox = append(nc.outbox, pieces...)
			nc.held++
			for _, pc := range pieces {
				nc.heldBytes += pc.size()
			}
			if nc.held > protocol.RelayMaxHeld || uint64(nc.heldBytes) > limit {
				slow = append(slow, id)
			}
			continue
		}
		if !p.sendPiecesOn(l, nc.dc, pieces) || nc.dc.BufferedAmount() > limit {
			slow = append(slow, id)
		}
	}
	for _, id := range slow {
		p.dropSlow(id)
	}
	return nil
}

// dropSlow drops a client the relay cannot keep up with.
func (p *Peer) dropSlow(id protocol.PeerID) {
	if p.host.links[id] == nil {
		return
	}
	p.log.Warn("p2pstreams: client cannot keep up, dropping it", "peer", id, "reason", protocol.CodeSlowReader)
	p.slowDrops.Add(1)
	p.hostDrop(id, StateFailed)
}

// channelMessage handles a client's Negotiation.Channel on the host, and
// reports whether w was one.
func (p *Peer) channelMessage(l *link, w wire) bool {
	if w.Type != protocol.MsgChannel {
		return false
	}
	var s protocol.ChannelSpec
	err := json.Unmarshal(w.Data, &s)
	if err == nil {
		err = s.Validate()
	}
	if err == nil {
		err = p.declare(s, l)
	}
	if err != nil {
		code := protocol.CodeOf(err)
		if code == "" {
			code = protocol.CodeBadChannel
		}
		p.sendText(l, encodeError(code, err.Error()))
	}
	return true
}

// declareAll is clientOpen's part: a client tells its new host every
// channel it knows (its app's, and those it learned), so that a host
// change loses none.
func (p *Peer) declareAll(l *link) {
	p.chans.mu.Lock()
	specs := slices.Collect(maps.Values(p.chans.specs))
	p.chans.mu.Unlock()
	for _, s := range specs {
		p.sendDeclaration(l, s)
	}
}

// sendPiecesOn hands one message's pieces to dc (the host's loop: it never
// waits); false when the channel refused one.
func (p *Peer) sendPiecesOn(l *link, dc *webrtc.DataChannel, pieces []piece) bool {
	for _, pc := range pieces {
		var err error
		if pc.bin != nil {
			err = dc.Send(pc.bin)
		} else {
			err = dc.SendText(pc.text)
		}
		if err != nil {
			p.log.Debug("p2pstreams: datachannel send", "peer", l.remote, "channel", dc.Label(), "err", err)
			return false
		}
	}
	return true
}

func (p *Peer) emitNamed(from protocol.PeerID, name string, data json.RawMessage, bin []byte) {
	if p.events != nil && p.cfg.OnMessage != nil {
		p.events.push(callback{kind: cbMessage, msg: &Message{From: from, Channel: name, Data: data, Binary: bin}})
	}
}
