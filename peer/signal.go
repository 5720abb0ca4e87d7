package peer

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
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

// signalQueue bounds the frames waiting for a signaling socket's writer; a
// socket that does not take that many is stalled, and is closed (the Peer
// then acts as on a lost signaling connection).
const signalQueue = 256

// signal is one signaling WebSocket. One goroutine reads. Once the Peer
// uses it (startWriter), one goroutine writes, as the server does: the
// loop and the reader's control replies only queue frames, so a stalled
// socket never stops the loop (its heartbeats). Before that (a HostCheck's
// socket), writes are direct, serialized by wmu.
type signal struct {
	nc  net.Conn
	src io.Reader // the handshake's buffered reader, then nc

	wmu    sync.Mutex
	closed bool // under wmu: no write after close

	out  chan []byte   // frames for the writer; nil without one (set before any concurrency)
	quit chan struct{} // closed by close: the writer sends what is queued, a close frame, and ends
	done chan struct{} // closed when the writer ends
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

// startWriter starts s's writer goroutine, counted in wg; before the reader.
func (s *signal) startWriter(wg *sync.WaitGroup) {
	s.out = make(chan []byte, signalQueue)
	s.quit = make(chan struct{})
	s.done = make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(s.done)
		s.writeLoop()
	}()
}

// send writes m as one text frame, or queues it for the writer.
func (s *signal) send(m *protocol.Message) error {
	var b bytes.Buffer
	if err := wsutil.WriteClientText(&b, protocol.Encode(m)); err != nil {
		return err
	}
	return s.write(b.Bytes())
}

// write writes one whole frame (direct), or queues it (writer). A full
// queue means a stalled socket: it is closed, and so the reader ends.
func (s *signal) write(frame []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	if s.out == nil {
		s.nc.SetWriteDeadline(time.Now().Add(signalWriteTimeout))
		_, err := s.nc.Write(frame)
		return err
	}
	select {
	case <-s.done:
		return net.ErrClosed
	case s.out <- frame:
		return nil
	default:
		s.nc.Close()
		return errors.New("peer: the signaling connection is stalled: " + strconv.Itoa(signalQueue) + " messages wait")
	}
}

// writeLoop writes the queued frames in order, each within
// signalWriteTimeout; on quit, what is queued then a close frame, within
// the deadline close set. It closes the connection when it ends.
func (s *signal) writeLoop() {
	defer s.nc.Close()
	put := func(f []byte) bool {
		_, err := s.nc.Write(f)
		return err == nil
	}
	for {
		select {
		case f := <-s.out:
			s.wmu.Lock()
			if !s.closed { // else close set a shorter deadline
				s.nc.SetWriteDeadline(time.Now().Add(signalWriteTimeout))
			}
			s.wmu.Unlock()
			if !put(f) {
				return
			}
		case <-s.quit:
			for {
				select {
				case f := <-s.out:
					if !put(f) {
						return
					}
				default:
					var b bytes.Buffer
					ws.WriteFrame(&b, ws.MaskFrameInPlace(ws.NewCloseFrame(ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))))
					put(b.Bytes())
					return
				}
			}
		}
	}
}

// controlWriter serializes the reader's control replies (pong, close) with
// other writes; gobwas writes each reply with one Write call.
type controlWriter struct{ s *signal }

func (w controlWriter) Write(p []byte) (int, error) {
	if err := w.s.write(bytes.Clone(p)); err != nil {
		return 0, err
	}
	return len(p), nil
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

// close sends a normal close frame (best effort, within a second; skipped
// when a direct write is stuck) and closes the connection, which ends the
// reader goroutine and any stuck write. With a writer, what was queued
// before goes first, and the writer closes the connection.
func (s *signal) close() {
	if s.out != nil {
		s.wmu.Lock() // held only to queue, never while writing
		if !s.closed {
			s.closed = true
			s.nc.SetWriteDeadline(time.Now().Add(time.Second)) // a stuck write too
			close(s.quit)
		}
		s.wmu.Unlock()
		return
	}
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
