package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gobwas/ws"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// conn is a minimal WebSocket client connection, cheap enough that the load
// generator does not compete with the server for the CPU more than needed:
// one buffered reader, frames written with one write call, a fixed mask.
//
// Reads happen on one goroutine; writes are serialized by mu.
type conn struct {
	nc   net.Conn
	br   *bufio.Reader
	hdr  []byte // header scratch for ws.ReadHeaderBuffer
	buf  []byte // payload scratch, reused: a payload is valid until the next read
	mu   sync.Mutex
	wbuf []byte
	mask [4]byte
}

// dialer dials WebSockets to one URL from several loopback source addresses,
// because one source address reaches one server port from only ~28k
// ephemeral ports.
type dialer struct {
	urls    []string // connection i goes to urls[i%len(urls)]
	sources []net.IP
}

func newDialer(rawURL string, sources int, more ...string) (*dialer, error) {
	d := &dialer{urls: append([]string{rawURL}, more...)}
	for _, raw := range d.urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, err
		}
		host := u.Hostname()
		ip := net.ParseIP(host)
		if ip == nil || !ip.IsLoopback() || ip.To4() == nil {
			return nil, fmt.Errorf("bench: target %q is not an IPv4 loopback address (loopback only)", host)
		}
	}
	if sources < 1 {
		sources = 1
	}
	// A random 127.X.0.0/16 per dialer: the sockets of a previous run wait
	// in TIME_WAIT for a minute, and a source address crowded with them
	// makes every connect() search long for a free port.
	x := byte(1 + rand.IntN(250))
	for i := 0; i < sources; i++ {
		d.sources = append(d.sources, net.IPv4(127, x, byte(i/250), byte(1+i%250)))
	}
	return d, nil
}

// dial opens connection number i (which picks its source address).
func (d *dialer) dial(ctx context.Context, i int) (*conn, error) {
	src := d.sources[i%len(d.sources)]
	wd := ws.Dialer{
		NetDial: func(ctx context.Context, network, addr string) (net.Conn, error) {
			nd := net.Dialer{LocalAddr: &net.TCPAddr{IP: src}}
			return nd.DialContext(ctx, network, addr)
		},
	}
	nc, br, _, err := wd.Dial(ctx, d.urls[i%len(d.urls)])
	if err != nil {
		return nil, err
	}
	if br == nil {
		br = bufio.NewReaderSize(nc, 2048)
	}
	return &conn{nc: nc, br: br, hdr: make([]byte, ws.MaxHeaderSize), mask: ws.NewMask()}, nil
}

// write sends one text frame holding p (p is not modified).
func (c *conn) write(p []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.wbuf = appendFrame(c.wbuf[:0], p, c.mask)
	_, err := c.nc.Write(c.wbuf)
	return err
}

// appendFrame appends a masked client text frame holding p.
func appendFrame(dst, p []byte, mask [4]byte) []byte {
	n := len(p)
	dst = append(dst, 0x81) // FIN | text
	switch {
	case n < 126:
		dst = append(dst, 0x80|byte(n))
	case n <= 0xffff:
		dst = append(dst, 0x80|126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 0x80|127, 0, 0, 0, 0, byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
	}
	dst = append(dst, mask[:]...)
	start := len(dst)
	dst = append(dst, p...)
	ws.Cipher(dst[start:], mask, 0)
	return dst
}

// errClosed is returned by read after a close frame.
var errClosed = errors.New("bench: server closed the connection")

// read returns the payload of the next text frame; the slice is valid until
// the next read. Pings are answered; a close frame ends with errClosed.
func (c *conn) read() ([]byte, error) {
	for {
		h, err := ws.ReadHeaderBuffer(c.br, c.hdr)
		if err != nil {
			return nil, err
		}
		if h.Length > 1<<20 {
			return nil, fmt.Errorf("bench: frame of %d bytes", h.Length)
		}
		if int64(cap(c.buf)) < h.Length {
			c.buf = make([]byte, h.Length)
		}
		p := c.buf[:h.Length]
		if _, err := io.ReadFull(c.br, p); err != nil {
			return nil, err
		}
		if h.Masked {
			ws.Cipher(p, h.Mask, 0)
		}
		switch h.OpCode {
		case ws.OpText, ws.OpBinary:
			if !h.Fin {
				return nil, errors.New("bench: fragmented frames are not expected")
			}
			return p, nil
		case ws.OpPing:
			c.mu.Lock()
			f := ws.MaskFrameInPlaceWith(ws.NewPongFrame(append([]byte(nil), p...)), c.mask)
			err := ws.WriteFrame(c.nc, f)
			c.mu.Unlock()
			if err != nil {
				return nil, err
			}
		case ws.OpClose:
			if len(p) >= 2 {
				return nil, fmt.Errorf("%w: %d %s", errClosed, int(p[0])<<8|int(p[1]), p[2:])
			}
			return nil, errClosed
		}
	}
}

func (c *conn) close() error { return c.nc.Close() }

// serverMsg is the part of a server message the load generator looks at.
type serverMsg struct {
	State      string `json:"state"`
	PeerID     string `json:"peerId"`
	HostPeerID string `json:"hostPeerId"`
	Code       string `json:"code"`
	Message    string `json:"message"`
}

// join sends SessionJoin with tok and reads until the SessionReady about
// peer itself; it returns the host's id. Other messages before it are
// ignored; an Error message fails the join.
func (c *conn) join(tok, peer string, deadline time.Time) (host string, err error) {
	msg := make([]byte, 0, len(tok)+64)
	msg = append(msg, `{"type":"Connection","state":"SessionJoin","token":`...)
	msg = strconv.AppendQuote(msg, tok)
	msg = append(msg, '}')
	if err := c.nc.SetReadDeadline(deadline); err != nil {
		return "", err
	}
	defer c.nc.SetReadDeadline(time.Time{})
	if err := c.write(msg); err != nil {
		return "", err
	}
	for {
		p, err := c.read()
		if err != nil {
			return "", err
		}
		var m serverMsg
		if err := json.Unmarshal(p, &m); err != nil {
			return "", fmt.Errorf("bench: bad server message: %v", err)
		}
		switch {
		case m.State == "Error":
			return "", &protocol.CodeError{Code: protocol.Code(m.Code), Text: m.Message}
		case m.State == "SessionReady" && m.PeerID == peer:
			return m.HostPeerID, nil
		}
	}
}
