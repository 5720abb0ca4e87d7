package peer

import (
	"encoding/json"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Media. Each peer sends its own tracks (AddTrack) as the browser client
// shares its streams: the host to every client, a client to its host. The
// host forwards every client's track to every other client, and to each
// one that connects later, through a relay track (TrackLocalStaticRTP fed
// with the client's RTP), announcing the sharer first with
// Negotiation.StreamFrom. Tracks are added to live connections and
// negotiated over each link's DataChannel (negotiate.go), never by
// rebuilding the connection.
//
// Keyframes: a receiver asks for one (RTCP PLI) as a video track starts;
// the host passes its viewers' requests (PLI, FIR) for a relayed track up
// to the sharer, and asks for one itself as each viewer's relay sender
// starts, so that a late viewer decodes from its first keyframe on. Requests for
// this peer's own tracks go to Config.OnKeyframeRequest: pion does not
// encode, so the app makes the keyframe (and sets the bitrate: the host
// cannot cap it per viewer).

// Track is a track a peer receives.
type Track struct {
	From     protocol.PeerID // who shares it: the host, or the client whose track the host forwards
	Remote   *webrtc.TrackRemote
	Receiver *webrtc.RTPReceiver
	st       *trackState
}

// Done is closed when the track has ended: its sender removed it
// (RemoveTrack, a browser's stopStream), the sharer left, or the link that
// brought it closed. Reading it then returns io.EOF.
func (t Track) Done() <-chan struct{} { return t.st.done }

// ReadRTP reads the track's next RTP packet. Read the track through it
// rather than Remote: on the host, the peer reads a client's track itself
// to forward it, and ReadRTP gives the app a copy of each packet (up to
// 256 unread; the app's copy drops packets rather than slow the viewers).
func (t Track) ReadRTP() (*rtp.Packet, error) {
	if t.st.tee == nil {
		pkt, _, err := t.Remote.ReadRTP()
		return pkt, err
	}
	return t.st.tee.read()
}

// trackState is a received track's life, kept by the loop per link.
type trackState struct {
	remote *webrtc.TrackRemote
	recv   *webrtc.RTPReceiver
	done   chan struct{}
	tee    *tee   // host: a client's track, which it forwards
	relay  *relay // host: the forwarding of it
}

// media is the Peer's media state; loop goroutine only.
type media struct {
	own      []*sent                    // this peer's tracks
	received map[*link][]*trackState    // tracks received, by link
	relays   []*relay                   // host: clients' tracks it forwards
	from     map[string]protocol.PeerID // client: stream id → sharer (Negotiation.StreamFrom)
	fromKeys []string                   // insertion order, to bound from
	fromLink *link                      // the link from is about
	upLink   *link                      // client: the link its own tracks go on (from its first state map)
}

// sent is a track this peer sends, or forwards (relay.out).
type sent struct {
	track webrtc.TrackLocal
	key   keyframeLimit
}

// relay is the host's forwarding of one client's track.
type relay struct {
	from protocol.PeerID
	src  *link
	in   *webrtc.TrackRemote
	out  sent // a *relayTrack
}

// keyframeLimit passes at most one keyframe request per keyframeInterval:
// one keyframe serves every viewer that asked meanwhile.
type keyframeLimit struct{ last atomic.Int64 }

const keyframeInterval = 250 * time.Millisecond

func (k *keyframeLimit) allow() bool {
	now := time.Now().UnixNano()
	last := k.last.Load()
	return now-last >= int64(keyframeInterval) && k.last.CompareAndSwap(last, now)
}

// AddTrack sends track (any webrtc.TrackLocal: TrackLocalStaticSample for
// generated or file media, TrackLocalStaticRTP to relay a received one):
// the host to every client, and to every client that connects later; a
// client to its host, which forwards it to every other client. Write to
// the track as pion says; each peer gets what is written from the moment
// its link has negotiated it. A client that becomes host (failover) sends
// its tracks to its clients from then on. A client in a session whose
// frame config says clientsMayShare: false gets a *protocol.CodeError
// (share_forbidden), and nothing is sent.
func (p *Peer) AddTrack(track webrtc.TrackLocal) error {
	return p.onLoop(func() error {
		if p.set.noShare && !p.isHostNow() {
			return &protocol.CodeError{Code: protocol.CodeShareForbidden, Text: "clients may not share streams in this session (clientsMayShare is false)"}
		}
		m := &p.media
		if slices.ContainsFunc(m.own, func(s *sent) bool { return s.track == track }) {
			return nil
		}
		s := &sent{track: track}
		m.own = append(m.own, s)
		for _, l := range p.mediaLinks() {
			p.sendTrack(l, s, p.ownKeyframe(s))
		}
		return nil
	})
}

// RemoveTrack stops sending track (each receiver sees it end; the host's
// clients see a forwarded one end). A track this peer does not send is a
// no-op.
func (p *Peer) RemoveTrack(track webrtc.TrackLocal) error {
	return p.onLoop(func() error {
		m := &p.media
		i := slices.IndexFunc(m.own, func(s *sent) bool { return s.track == track })
		if i < 0 {
			return nil
		}
		m.own = slices.Delete(m.own, i, i+1)
		p.unsend(track)
		return nil
	})
}

// mediaLinks are the open links this peer sends its own tracks on.
func (p *Peer) mediaLinks() []*link {
	if p.isHostNow() {
		var ls []*link
		for _, l := range p.host.links {
			if l.open {
				ls = append(ls, l)
			}
		}
		return ls
	}
	if l := p.client.toHost; l != nil && l.open && p.media.upLink == l {
		return []*link{l}
	}
	return nil
}

// clientTracks: a client's first state map on l, which its host sends once
// the channel is open, after its own offer of the tracks it sends (if
// any): the client offers its tracks now, behind the host's offer, so
// that the two usually do not cross (when they do, see negotiate.go).
func (p *Peer) clientTracks(l *link) {
	if p.media.upLink == l || p.isHostNow() {
		return
	}
	p.media.upLink = l
	if p.set.noShare && len(p.media.own) > 0 { // tracks added as host, before a failover
		p.emitError(&protocol.CodeError{Code: protocol.CodeShareForbidden, Text: "clients may not share streams in this session (clientsMayShare is false): this peer's tracks are not sent to its new host"})
		return
	}
	p.sendTracks(l)
}

// unsend removes track's senders from every link.
func (p *Peer) unsend(track webrtc.TrackLocal) {
	ls := p.mediaLinks()
	for _, l := range ls {
		for _, s := range l.pc.GetSenders() {
			if s.Track() == track {
				if err := l.pc.RemoveTrack(s); err != nil {
					p.log.Debug("p2pstreams: remove track", "peer", l.remote, "err", err)
				}
			}
		}
	}
}

// sendTracks sends what this peer sends to a link that just opened: its
// own tracks, and on the host the clients' it forwards (not a client's
// own back to it).
//
// The offer goes at once rather than on pion's negotiationneeded, so that
// a host's reaches the client before the state map that says it is
// connected (see clientTracks).
func (p *Peer) sendTracks(l *link) {
	for _, s := range p.media.own {
		p.sendTrack(l, s, p.ownKeyframe(s))
	}
	if p.isHostNow() {
		for _, r := range p.media.relays {
			if r.from != l.remote {
				p.forwardTo(l, r)
			}
		}
	}
	if len(l.pc.GetSenders()) > 0 {
		p.negotiationNeeded(l)
	}
}

// ownKeyframe tells the app that a receiver of s wants a keyframe.
func (p *Peer) ownKeyframe(s *sent) func() {
	if p.cfg.OnKeyframeRequest == nil {
		return nil
	}
	return func() {
		if s.key.allow() {
			p.push(callback{kind: cbCall, fn: func() { p.cfg.OnKeyframeRequest(s.track) }}, true)
		}
	}
}

// sendTrack adds s to l, and reads the sender's RTCP (so that pion's
// interceptors run: NACK, reports), calling keyframe on a PLI or FIR.
//
// Each track gets a new transceiver with its mid set at once (pion's
// AddTrack would reuse one, or leave the mid to the next offer): so the
// track is sent only once our own offer has negotiated it, never on an
// m-line of the remote's offer that we answer. Media sent with an answer
// reaches the offerer before its answer does, which makes pion probe the
// unknown SSRC while its receiver starts (a data race inside pion v4.2.20,
// seen when two Go peers add tracks at the same moment).
func (p *Peer) sendTrack(l *link, s *sent, keyframe func()) {
	t, err := l.pc.AddTransceiverFromTrack(s.track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv})
	if err == nil {
		err = t.SetMid(l.newMid())
	}
	if err != nil {
		p.log.Warn("p2pstreams: add track", "peer", l.remote, "err", err)
		return
	}
	snd := t.Sender()
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			pkts, _, err := snd.ReadRTCP()
			if err != nil {
				return
			}
			if keyframe != nil && wantsKeyframe(pkts) {
				keyframe()
			}
		}
	}()
}

func wantsKeyframe(pkts []rtcp.Packet) bool {
	for _, pkt := range pkts {
		switch pkt.(type) {
		case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
			return true
		}
	}
	return false
}

// requestKeyframe asks l's sender of tr for a keyframe (RTCP PLI).
func (p *Peer) requestKeyframe(l *link, tr *webrtc.TrackRemote) {
	if tr.Kind() != webrtc.RTPCodecTypeVideo {
		return
	}
	err := l.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(tr.SSRC())}})
	if err != nil {
		p.log.Debug("p2pstreams: keyframe request", "peer", l.remote, "err", err)
	}
}

// gotTrack: pion's OnTrack (its own goroutine). The loop records the track
// and tells the app.
func (p *Peer) gotTrack(l *link, tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	p.inbox.push(event{kind: evCall, fn: func() { p.addReceived(l, tr, recv) }})
}

func (p *Peer) addReceived(l *link, tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	if l.closed {
		return
	}
	m := &p.media
	st := &trackState{remote: tr, recv: recv, done: make(chan struct{})}
	if m.received == nil {
		m.received = map[*link][]*trackState{}
	}
	m.received[l] = append(m.received[l], st)
	if receiverStopped(recv) { // removed before the loop saw it start
		p.endTrack(l, st)
		return
	}
	host := p.isHostNow()
	if host && p.set.noShare { // a client that shares anyway: refused, told
		p.endTrack(l, st)
		if err := recv.RTPTransceiver().Stop(); err != nil {
			p.log.Debug("p2pstreams: stop a refused track", "peer", l.remote, "err", err)
		}
		text := string(l.remote) + " sent a track, but clients may not share in this session; it was refused"
		p.sendText(l, encodeError(protocol.CodeShareForbidden, text))
		p.emitError(&protocol.CodeError{Code: protocol.CodeShareForbidden, Text: text})
		return
	}
	p.requestKeyframe(l, tr)
	from := l.remote
	if !host && m.fromLink == l {
		if f, ok := m.from[tr.StreamID()]; ok {
			from = f
		}
	}
	if host {
		p.forward(l, st)
	}
	if p.cfg.OnTrack != nil {
		p.push(callback{kind: cbTrack, track: &Track{From: from, Remote: tr, Receiver: recv, st: st}}, true)
	}
}

// receiverStopped: a renegotiation stopped recv (pion replaces a stopped
// receiver, or stops the transceiver of an inactive m-line).
func receiverStopped(recv *webrtc.RTPReceiver) bool {
	t := recv.RTPTransceiver()
	if t == nil {
		return true
	}
	d := t.Direction()
	return d == webrtc.RTPTransceiverDirectionInactive || d == webrtc.RTPTransceiverDirectionSendonly
}

// tracksChanged: l's remote description was set; end its tracks whose
// sender removed them.
func (p *Peer) tracksChanged(l *link) {
	for _, st := range slices.Clone(p.media.received[l]) {
		if receiverStopped(st.recv) {
			p.endTrack(l, st)
		}
	}
}

// tracksGone: l closed; every track it brought ends.
func (p *Peer) tracksGone(l *link) {
	for _, st := range slices.Clone(p.media.received[l]) {
		p.endTrack(l, st)
	}
	delete(p.media.received, l)
	if p.media.fromLink == l {
		p.media.from, p.media.fromKeys, p.media.fromLink = nil, nil, nil
	}
}

// endTrack ends a received track: Done closes, and the host stops
// forwarding it.
func (p *Peer) endTrack(l *link, st *trackState) {
	m := &p.media
	i := slices.Index(m.received[l], st)
	if i < 0 {
		return
	}
	m.received[l] = slices.Delete(m.received[l], i, i+1)
	close(st.done)
	if st.tee != nil {
		st.tee.close()
	}
	if r := st.relay; r != nil {
		if j := slices.Index(m.relays, r); j >= 0 {
			m.relays = slices.Delete(m.relays, j, j+1)
		}
		p.unsend(r.out.track)
	}
}

// forward (host): a client's track goes to every other client, now and
// later; the host reads it and writes it to a relay track.
func (p *Peer) forward(l *link, st *trackState) {
	tr := st.remote
	out, err := webrtc.NewTrackLocalStaticRTP(tr.Codec().RTPCodecCapability, tr.ID(), tr.StreamID())
	if err != nil {
		p.log.Warn("p2pstreams: relay track", "peer", l.remote, "err", err)
		return
	}
	r := &relay{from: l.remote, src: l, in: tr}
	r.out.track = &relayTrack{TrackLocalStaticRTP: out, bound: r.keyframe}
	st.relay, st.tee = r, &tee{ch: make(chan *rtp.Packet, teeSize), done: make(chan struct{})}
	p.media.relays = append(p.media.relays, r)
	for id, v := range p.host.links {
		if id != r.from && v.open {
			p.forwardTo(v, r)
		}
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		buf := make([]byte, 1500)
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				p.inbox.push(event{kind: evCall, fn: func() { p.endTrack(l, st) }})
				return
			}
			if _, err := out.Write(buf[:n]); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				p.log.Debug("p2pstreams: relay write", "peer", r.from, "err", err)
			}
			st.tee.offer(buf[:n])
		}
	}()
}

// forwardTo adds relay r to viewer l, saying first who shares it. The
// viewer's keyframe requests go up to the sharer, and the relay asks for
// one itself as soon as the viewer's sender is negotiated (relayTrack).
func (p *Peer) forwardTo(l *link, r *relay) {
	p.sendNegotiation(l, protocol.MsgStreamFrom, streamFrom{StreamID: r.in.StreamID(), PeerID: r.from})
	p.sendTrack(l, &r.out, r.keyframe)
}

// keyframe asks the sharer for a keyframe (at most every keyframeInterval).
func (r *relay) keyframe() {
	if r.in.Kind() == webrtc.RTPCodecTypeVideo && r.out.key.allow() {
		r.src.pc.WriteRTCP([]rtcp.Packet{&rtcp.PictureLossIndication{MediaSSRC: uint32(r.in.SSRC())}}) // fails only once the sharer's link is closed
	}
}

// relayTrack is a relay's track, which asks for a keyframe each time a
// viewer's sender starts: a keyframe asked for earlier, while the viewer
// was still negotiating, would not reach it.
type relayTrack struct {
	*webrtc.TrackLocalStaticRTP
	bound func()
}

func (t *relayTrack) Bind(c webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, err := t.TrackLocalStaticRTP.Bind(c)
	if err == nil {
		t.bound()
	}
	return codec, err
}

type streamFrom struct {
	StreamID string          `json:"streamId"`
	PeerID   protocol.PeerID `json:"peerId"`
}

// maxStreamFrom bounds what a client keeps of Negotiation.StreamFrom.
const maxStreamFrom = 256

// streamFromMessage (client): the host says who shares a stream it
// forwards. Only a host's word counts; a bad one is dropped.
func (p *Peer) streamFromMessage(l *link, data json.RawMessage) {
	var f streamFrom
	if p.isHostNow() || l != p.client.toHost || json.Unmarshal(data, &f) != nil ||
		f.StreamID == "" || len(f.StreamID) > 256 || protocol.CheckID(string(f.PeerID)) != nil {
		p.log.Debug("p2pstreams: ignoring a StreamFrom", "peer", l.remote)
		return
	}
	m := &p.media
	if m.fromLink != l {
		m.from, m.fromKeys, m.fromLink = map[string]protocol.PeerID{}, nil, l
	}
	if _, ok := m.from[f.StreamID]; !ok {
		m.fromKeys = append(m.fromKeys, f.StreamID)
		if len(m.fromKeys) > maxStreamFrom {
			delete(m.from, m.fromKeys[0])
			m.fromKeys = m.fromKeys[1:]
		}
	}
	m.from[f.StreamID] = f.PeerID
}

// tee gives the host's app a copy of a forwarded track's packets, from its
// first ReadRTP on.
type tee struct {
	on   atomic.Bool
	ch   chan *rtp.Packet
	done chan struct{}
	once sync.Once
}

const teeSize = 256

func (t *tee) offer(b []byte) {
	if !t.on.Load() {
		return
	}
	pkt := &rtp.Packet{}
	if pkt.Unmarshal(append([]byte(nil), b...)) != nil {
		return
	}
	select {
	case t.ch <- pkt:
	default: // the app is behind: its copy loses this one
	}
}

func (t *tee) read() (*rtp.Packet, error) {
	t.on.Store(true)
	select {
	case pkt := <-t.ch:
		return pkt, nil
	case <-t.done:
		select {
		case pkt := <-t.ch:
			return pkt, nil
		default:
			return nil, io.EOF
		}
	}
}

func (t *tee) close() { t.once.Do(func() { close(t.done) }) }

// onLoop runs f on the loop and returns its error (ErrClosed once the
// Peer has stopped).
func (p *Peer) onLoop(f func() error) error {
	errc := make(chan error, 1)
	if !p.inbox.push(event{kind: evCall, fn: func() { errc <- f() }}) {
		return ErrClosed
	}
	select {
	case err := <-errc:
		return err
	case <-p.done:
		return ErrClosed
	}
}
