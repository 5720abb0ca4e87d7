package peer

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// link is one RTCPeerConnection and its p2pstreams DataChannel: on the host,
// one per client; on a client, the one to its host.
//
// Its plain fields belong to the loop goroutine. pion's callbacks only push
// events (tagged with the link, so that events of a replaced link are
// ignored) and touch lastSeen and low.
type link struct {
	remote protocol.PeerID
	pc     *webrtc.PeerConnection
	dc     *webrtc.DataChannel // host: created with the link; client: set when open

	started   time.Time                 // for the negotiation timeout
	open      bool                      // the DataChannel is open
	openedAt  time.Time                 // host: when it opened (the longest-open client is the successor)
	remoteSet bool                      // the remote description is set
	pending   []webrtc.ICECandidateInit // remote candidates until then
	outbox    []piece                   // host: relayed messages until open
	held      int                       // host: messages in outbox
	heldBytes int                       // host: bytes in outbox
	baseSeq   uint64                    // host: Peer.handoff.seq when the link was made
	closed    bool

	polite      bool                       // the client's side: gives way when offers cross (negotiate.go)
	ignoreOffer bool                       // the last remote offer crossed ours and was ignored
	offer       *webrtc.SessionDescription // polite: our offer, sent and not applied until answered (negotiate.go)
	setup       string                     // this side's DTLS role as an a=setup line, from the first exchange (negotiate.go)

	// Healing (heal.go). healing is written by the loop under hmu, and read
	// by the loop freely and by Send (hold) under hmu.
	hmu       sync.Mutex
	healing   bool
	healHeld  [][]piece // client: Data messages sent while healing
	healSince time.Time // loop only
	// checkedSeen is lastSeen when the client last asked about its host
	// (HostCheck): one check per silence. Loop only.
	checkedSeen int64

	sendMu sync.Mutex  // a client's Send: one message's chunks back to back
	rs     reassembler // chunks received (pion's reading goroutine)

	lastSeen atomic.Int64  // UnixNano of the last message received
	low      chan struct{} // capacity 1: the send buffer went below protocol.SendLowWater
	gone     chan struct{} // closed when the link is closed
}

func (l *link) seen() { l.lastSeen.Store(time.Now().UnixNano()) }

func (l *link) idleFor(now time.Time) time.Duration {
	return now.Sub(time.Unix(0, l.lastSeen.Load()))
}

// makeCert starts making the DTLS certificate that all of this Peer's
// links share, as a browser keeps one per origin: a host saves a key
// generation and a signature per client, and a client makes it while it
// dials and joins, off its path to the open DataChannel.
func (p *Peer) makeCert() {
	p.certc = make(chan certResult, 1)
	if p.cfg.Certificate != nil {
		p.certc <- certResult{cert: p.cfg.Certificate}
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			p.certc <- certResult{err: err}
			return
		}
		cert, err := webrtc.GenerateCertificate(key)
		p.certc <- certResult{cert, err}
	}()
}

type certResult struct {
	cert *webrtc.Certificate
	err  error
}

// newLink makes the RTCPeerConnection to remote. The offerer (the host)
// creates the DataChannel; the answerer takes it from OnDataChannel.
func (p *Peer) newLink(remote protocol.PeerID, offerer bool, iceServers []webrtc.ICEServer) (*link, error) {
	if p.cert == nil {
		r := <-p.certc
		if r.err != nil {
			return nil, fmt.Errorf("peer: DTLS certificate: %w", r.err)
		}
		p.cert = r.cert
	}
	pc, err := p.cfg.api(p.set.policy).NewPeerConnection(webrtc.Configuration{
		ICEServers: iceServers, ICETransportPolicy: p.set.policy, Certificates: []webrtc.Certificate{*p.cert},
	})
	if err != nil {
		return nil, err
	}
	l := &link{
		remote: remote, pc: pc, started: time.Now(), polite: !offerer,
		low: make(chan struct{}, 1), gone: make(chan struct{}),
	}
	pc.OnNegotiationNeeded(func() { p.inbox.push(event{kind: evNegotiate, link: l}) })
	pc.OnTrack(func(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) { p.gotTrack(l, tr, recv) })
	p.live.Store(remote, l)
	pc.OnICECandidate(func(c *webrtc.ICECandidate) {
		if c == nil { // end of gathering: the browser client sends nothing for it either
			return
		}
		init := c.ToJSON()
		p.inbox.push(event{kind: evCandidate, link: l, cand: &init})
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		p.inbox.push(event{kind: evPCState, link: l, pcState: s})
	})
	if offerer {
		dc, err := pc.CreateDataChannel(DataChannelLabel, nil)
		if err != nil {
			pc.Close()
			return nil, err
		}
		l.dc = dc
		p.watch(l, dc)
	}
	pc.OnDataChannel(func(dc *webrtc.DataChannel) {
		if dc.Label() == DataChannelLabel && !offerer {
			p.watch(l, dc)
		} else {
			p.watchNamed(l, dc) // channels.go
		}
	})
	p.openNamed(l, offerer)
	return l, nil
}

func (p *Peer) watch(l *link, dc *webrtc.DataChannel) {
	dc.SetBufferedAmountLowThreshold(protocol.SendLowWater)
	dc.OnBufferedAmountLow(func() {
		select {
		case l.low <- struct{}{}:
		default:
		}
	})
	dc.OnOpen(func() { p.inbox.push(event{kind: evOpen, link: l, dc: dc}) })
	dc.OnClose(func() { p.inbox.push(event{kind: evClose, link: l, dc: dc}) })
	dc.OnMessage(func(m webrtc.DataChannelMessage) {
		if d := p.slowRead.Load(); d > 0 { // tests: a peer that reads slowly
			time.Sleep(time.Duration(d))
		}
		l.seen()
		w, err := l.receive(m)
		if w.Type == "" && err == nil { // a chunk of a message still coming
			return
		}
		if err != nil {
			p.log.Warn("p2pstreams: dropping an unreadable peer message", "from", l.remote, "err", err)
			return
		}
		if w.Type == typeHeartbeat { // seen() is all it is for
			return
		}
		// A message may overtake the open event (pion runs OnOpen in its
		// own goroutine): the loop takes it as "open" too.
		p.inbox.push(event{kind: evData, link: l, dc: dc, wire: w})
	})
}

// addCandidate adds a remote candidate, or keeps it until the remote
// description is set (candidates often arrive first).
func (l *link) addCandidate(c webrtc.ICECandidateInit) error {
	if c.Candidate == "" {
		return nil
	}
	if !l.remoteSet {
		l.pending = append(l.pending, c)
		return nil
	}
	return l.pc.AddICECandidate(c)
}

// setRemote sets the remote description and adds the candidates kept so far.
func (l *link) setRemote(d webrtc.SessionDescription) error {
	if err := l.pc.SetRemoteDescription(d); err != nil {
		return err
	}
	l.remoteSet = true
	for _, c := range l.pending {
		if err := l.pc.AddICECandidate(c); err != nil {
			return err
		}
	}
	l.pending = nil
	return nil
}

// close closes the link in the background (pion's GracefulClose waits for
// its goroutines); the Peer's WaitGroup tracks it.
func (p *Peer) closeLink(l *link) {
	if l == nil || l.closed {
		return
	}
	l.closed = true
	close(l.gone)
	p.tracksGone(l)
	p.reportLost(l)
	p.live.CompareAndDelete(l.remote, l)
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := l.pc.GracefulClose(); err != nil {
			p.log.Debug("p2pstreams: close peer connection", "peer", l.remote, "err", err)
		}
	}()
}

// receive decodes one DataChannel message; it returns a zero wire while a
// chunked message is incomplete. One over the absolute bound comes out as
// a Data message marked tooLarge, for the host to refuse with a reason.
func (l *link) receive(m webrtc.DataChannelMessage) (wire, error) { return receiveOn(&l.rs, m) }

// receiveOn is receive for any channel, with that channel's reassembler.
func receiveOn(rs *reassembler, m webrtc.DataChannelMessage) (wire, error) {
	if m.IsString {
		return decodeWire(m.Data)
	}
	whole, isBin, done, err := rs.add(m.Data, protocol.MaxMaxMessageSize+chunkSlack)
	switch {
	case errors.Is(err, errChunkTooLarge):
		return wire{Type: typeData, tooLarge: true}, nil
	case err != nil || !done:
		return wire{}, err
	case !isBin:
		return decodeWire(whole)
	}
	w, payload, err := decodeBinary(whole)
	w.Binary = payload
	if w.Binary == nil && err == nil {
		w.Binary = []byte{}
	}
	return w, err
}

// send sends one message's pieces on a client's link, waiting for room
// before each. A message cut short (ctx ended, or the channel refused a
// piece) ends with an abort chunk, so that the host drops the part it got.
func (l *link) send(ctx context.Context, pieces []piece) error {
	return sendOn(ctx, l.dc, l.low, l.gone, &l.sendMu, pieces)
}

// sendOn is send for any channel: dc, its low-water signal, and the lock
// that keeps one message's chunks together on it.
func sendOn(ctx context.Context, dc *webrtc.DataChannel, low, gone chan struct{}, mu *sync.Mutex, pieces []piece) error {
	mu.Lock()
	defer mu.Unlock()
	for i, pc := range pieces {
		err := waitRoom(ctx, dc, low, gone)
		if err == nil && pc.bin != nil {
			err = dc.Send(pc.bin)
		} else if err == nil {
			err = dc.SendText(pc.text)
		}
		if err == nil {
			continue
		}
		if i > 0 {
			dc.Send([]byte{flagAbort})
		}
		if errors.Is(err, ErrNotConnected) || dc.ReadyState() != webrtc.DataChannelStateOpen {
			return fmt.Errorf("%w: %v", ErrNotConnected, err)
		}
		return fmt.Errorf("peer: send: %w", err)
	}
	return nil
}

// waitRoom blocks while dc's queue is over protocol.SendHighWater.
func waitRoom(ctx context.Context, dc *webrtc.DataChannel, low, gone chan struct{}) error {
	for dc.BufferedAmount() > protocol.SendHighWater {
		select {
		case <-low:
		case <-gone:
			return ErrNotConnected
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}
