package bench

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/p2pstreams/p2pstreams/internal/lazyread"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// floor is the bare WebSocket relay the server is compared with: the least
// a server on the same library (gobwas/ws) must do to speak the protocol.
// It verifies tokens, keeps a map of connected peers and each session's host,
// and forwards routed messages with the sender stamped. It has no send queue
// (the sender's goroutine writes to the target under the target's lock), no
// rate limit, no store, no broker, no timeouts, no limits beyond a frame
// size: it is a floor, not a server to run.
//
// One goroutine per connection, a fresh one so that the HTTP server's
// goroutine and buffers are released after the upgrade, and again after a
// second of silence so that an idle connection waits on a 2 KiB stack (see
// readLoop); a read buffer only while data is buffered (lazyread.Reader).
type floor struct {
	secret []byte

	mu    sync.Mutex
	peers map[string]*floorConn // key: session NUL peer
	hosts map[protocol.SessionID]protocol.PeerID
}

type floorConn struct {
	mu sync.Mutex // serializes writes
	nc net.Conn
}

func newFloor(secret []byte) *floor {
	return &floor{secret: secret, peers: map[string]*floorConn{}, hosts: map[protocol.SessionID]protocol.PeerID{}}
}

// floorMsg is what the floor reads from a peer.
type floorMsg struct {
	State protocol.State  `json:"state"`
	Token string          `json:"token"`
	To    protocol.PeerID `json:"to"`
	Data  json.RawMessage `json:"data"`
}

func (f *floor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	nc, _, _, err := ws.UpgradeHTTP(r, w)
	if err != nil {
		return
	}
	go f.serve(nc)
}

// floorPeer is one connection's state, kept on the heap so that the read
// loop's frame, which is what an idle connection's stack holds, stays small.
type floorPeer struct {
	fc      *floorConn
	rd      *lazyread.Reader
	handled bool // a message was handled since the reader goroutine started
	joined  bool
	session protocol.SessionID
	peer    protocol.PeerID
	from    []byte
}

func (f *floor) serve(nc net.Conn) {
	f.readLoop(&floorPeer{fc: &floorConn{nc: nc}, rd: &lazyread.Reader{R: nc, Conn: nc, Idle: idleShed}})
}

// readLoop reads frames until the connection ends. After idleShed of
// silence it hands the connection to a fresh goroutine and returns: handling
// a join or a message grows a goroutine's stack to 8 KiB, which GC shrinks
// only to 4 KiB while it is parked in a read; the new goroutine waits on the
// initial 2 KiB. (Doing it after every burst instead costs a busy
// connection a goroutine and stack growth per burst: measured, it doubled
// the floor's relay latency at 5k messages/s.)
func (f *floor) readLoop(fp *floorPeer) {
	var hdr [ws.MaxHeaderSize]byte
	for {
		// Wait with the idle deadline only if this goroutine has handled a
		// message (its stack may have grown): a fresh one waits as long as
		// it takes, so an idle connection moves once, not every second.
		fp.rd.Boundary = fp.handled
		h, err := ws.ReadHeaderBuffer(fp.rd, hdr[:])
		if errors.Is(err, lazyread.ErrIdle) {
			fp.handled = false
			go f.readLoop(fp)
			return
		}
		if err != nil || h.Length > 64<<10 || h.OpCode == ws.OpClose {
			break
		}
		fp.handled = true
		if !f.frame(fp, h) {
			break
		}
	}
	fp.rd.Release()
	fp.fc.nc.Close()
	if fp.joined {
		f.leave(fp.session, fp.peer, fp.fc)
	}
}

// idleShed is how long a floor connection waits on its stack before it
// moves to a fresh goroutine.
const idleShed = time.Second

// frame reads the payload of the frame with header h and handles it; it
// returns false when the connection must end. Its deep calls (JSON, token,
// writes) run here, not in serve's frame.
//
//go:noinline
func (f *floor) frame(fp *floorPeer, h ws.Header) bool {
	p := make([]byte, h.Length)
	if _, err := io.ReadFull(fp.rd, p); err != nil {
		return false
	}
	ws.Cipher(p, h.Mask, 0)
	switch h.OpCode {
	case ws.OpPing:
		fp.fc.send(ws.OpPong, p)
		return true
	case ws.OpText:
	default:
		return true
	}
	var m floorMsg
	if json.Unmarshal(p, &m) != nil {
		return true
	}
	switch {
	case m.State == protocol.SessionJoin && !fp.joined:
		c, err := token.Verify(f.secret, m.Token, time.Now())
		if err != nil {
			fp.fc.send(ws.OpText, protocol.ErrorMessage(protocol.CodeBadToken, err.Error()))
			return true
		}
		fp.session, fp.peer, fp.joined = c.Session, c.Peer, true
		fp.from = protocol.Quote(string(c.Peer))
		f.join(c.Session, c.Peer, fp.fc, c.Config)
	case m.State.Routed() && fp.joined:
		f.mu.Lock()
		to := f.peers[key(fp.session, m.To)]
		f.mu.Unlock()
		if to == nil {
			fp.fc.send(ws.OpText, protocol.ErrorMessage(protocol.CodePeerNotFound, "no such peer"))
			return true
		}
		to.send(ws.OpText, protocol.AppendRouted(nil, m.State, fp.from, m.To, m.Data))
	}
	return true
}

func (f *floor) join(s protocol.SessionID, p protocol.PeerID, fc *floorConn, config json.RawMessage) {
	f.mu.Lock()
	host, ok := f.hosts[s]
	if !ok {
		host = p
		f.hosts[s] = p
	}
	f.peers[key(s, p)] = fc
	hc := f.peers[key(s, host)]
	f.mu.Unlock()
	// The joiner first, as the server does: the host's offer must not
	// overtake the joiner's own SessionReady.
	ready := &protocol.Message{State: protocol.SessionReady, SessionID: s, PeerID: p, HostPeerID: host, Config: config}
	fc.send(ws.OpText, protocol.Encode(ready))
	if host != p && hc != nil {
		ready.Config = nil
		hc.send(ws.OpText, protocol.Encode(ready))
	}
}

func (f *floor) leave(s protocol.SessionID, p protocol.PeerID, fc *floorConn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.peers[key(s, p)] == fc {
		delete(f.peers, key(s, p))
	}
	if f.hosts[s] == p {
		delete(f.hosts, s)
	}
}

// send writes one unmasked server frame with a single write call.
func (fc *floorConn) send(op ws.OpCode, p []byte) {
	var hb [ws.MaxHeaderSize]byte
	n := 2
	hb[0] = 0x80 | byte(op)
	switch l := len(p); {
	case l < 126:
		hb[1] = byte(l)
	case l <= 0xffff:
		hb[1], hb[2], hb[3], n = 126, byte(l>>8), byte(l), 4
	default:
		hb[1] = 127
		for i := 0; i < 8; i++ {
			hb[9-i] = byte(l >> (8 * i))
		}
		n = 10
	}
	b := make([]byte, 0, n+len(p))
	b = append(append(b, hb[:n]...), p...)
	fc.mu.Lock()
	fc.nc.Write(b) // a failed write shows up as a read error on that connection
	fc.mu.Unlock()
}

func key(s protocol.SessionID, p protocol.PeerID) string { return string(s) + "\x00" + string(p) }
