package peer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/protocol"
)

const (
	signalWriteTimeout = 10 * time.Second
	signalMaxMessage   = 1 << 20 // bigger than any server frame (64 KiB by default)
)

// signal is one signaling WebSocket. Writes are serialized by wmu (the
// reader goroutine writes control-frame replies too); one goroutine reads.
type signal struct {
	nc  net.Conn
	src io.Reader // the handshake's buffered reader, then nc

	wmu    sync.Mutex
	closed bool // under wmu: no write after close
}

func dialSignal(ctx context.Context, url string, netDial func(ctx context.Context, network, addr string) (net.Conn, error)) (*signal, error) {
	if rest, ok := strings.CutPrefix(url, "http"); ok { // http://, https:// name the same endpoint
		url = "ws" + rest
	}
	d := ws.Dialer{NetDial: netDial}
	nc, br, _, err := d.Dial(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("peer: dial %s: %w", url, err)
	}
	s := &signal{nc: nc, src: nc}
	if br != nil { // the server wrote before the handshake was read out
		s.src = io.MultiReader(br, nc)
	}
	return s, nil
}

// send writes m as one text frame.
func (s *signal) send(m *protocol.Message) error {
	return s.write(func(w io.Writer) error { return wsutil.WriteClientText(w, protocol.Encode(m)) })
}

func (s *signal) write(f func(io.Writer) error) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.nc.SetWriteDeadline(time.Now().Add(signalWriteTimeout))
	return f(s.nc)
}

// controlWriter serializes the reader's control replies (pong, close) with
// other writes; gobwas writes each reply with one Write call.
type controlWriter struct{ s *signal }

func (w controlWriter) Write(p []byte) (int, error) {
	var n int
	err := w.s.write(func(w io.Writer) (err error) { n, err = w.Write(p); return err })
	return n, err
}

// read returns the next server message. A close from the server is
// returned as a *protocol.CodeError when it gives a reason.
func (s *signal) read() (*protocol.Message, error) {
	ctl := wsutil.ControlFrameHandler(controlWriter{s}, ws.StateClientSide)
	rd := &wsutil.Reader{
		Source: s.src, State: ws.StateClientSide, CheckUTF8: true,
		MaxFrameSize: signalMaxMessage, MaxMessageSize: signalMaxMessage,
		OnIntermediate: ctl,
	}
	for {
		hdr, err := rd.NextFrame()
		if err != nil {
			return nil, closeErr(err)
		}
		if hdr.OpCode.IsControl() {
			if err := ctl(hdr, rd); err != nil {
				return nil, closeErr(err)
			}
			continue
		}
		if hdr.OpCode != ws.OpText {
			if err := rd.Discard(); err != nil {
				return nil, closeErr(err)
			}
			continue
		}
		b, err := io.ReadAll(rd)
		if err != nil {
			return nil, closeErr(err)
		}
		m := new(protocol.Message)
		if err := json.Unmarshal(b, m); err != nil || m.Type != protocol.Type {
			continue // not ours; the server never sends this
		}
		return m, nil
	}
}

func closeErr(err error) error {
	var ce wsutil.ClosedError
	if errors.As(err, &ce) {
		if ce.Reason == "" {
			return fmt.Errorf("peer: signaling closed by the server: %d", ce.Code)
		}
		return &protocol.CodeError{Code: protocol.Code(ce.Reason), Text: "signaling closed by the server", Close: int(ce.Code)}
	}
	return err
}

// close sends a normal close frame (best effort, bounded; skipped when a
// write is stuck) and closes the connection, which ends the reader
// goroutine and any stuck write.
func (s *signal) close() {
	if s.wmu.TryLock() {
		if !s.closed {
			s.closed = true
			s.nc.SetWriteDeadline(time.Now().Add(time.Second))
			ws.WriteFrame(s.nc, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
		}
		s.wmu.Unlock()
	}
	s.nc.Close()
}
