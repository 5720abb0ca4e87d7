package p2pstreams

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"time"
)

// readBufSize is the size of a pooled read buffer.
const readBufSize = 4096

var readBufs = sync.Pool{New: func() any { return new([readBufSize]byte) }}

// lazyReader reads through a pooled buffer that it holds only while it has
// data buffered. When the buffer is empty, a read goes straight into the
// caller's slice, so an idle connection blocks holding no buffer; the next
// read (the rest of a frame: data is arriving) takes a buffer and fills it
// with what the socket has, often several frames, which later reads are
// served from. A burst of small frames costs about two read calls instead
// of the three per frame of reading header, mask and payload from the
// socket.
//
// It is what the floor of the benchmarks (internal/bench) uses too.

type lazyReader struct {
	r io.Reader
	// With conn and idle set, a read at a message boundary (the caller sets
	// boundary before reading a frame header) that waits on the socket longer
	// than idle returns errIdle having consumed nothing: the caller may move
	// to a fresh goroutine (see conn.readLoop) and read again. Within a
	// frame, reads wait as long as it takes.
	conn     net.Conn
	idle     time.Duration
	boundary bool

	buf  *[readBufSize]byte // nil when empty
	i, n int                // buf[i:n] is unread
	// direct is true when the last read went to the socket unbuffered: the
	// next one is mid-frame and takes a buffer.
	direct bool
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.buf != nil {
		l.boundary = false
		k := copy(p, l.buf[l.i:l.n])
		l.i += k
		if l.i == l.n {
			l.release()
		}
		return k, nil
	}
	if !l.direct || len(p) >= readBufSize {
		l.direct = true
		if !l.boundary || l.conn == nil || l.idle <= 0 {
			return l.r.Read(p)
		}
		l.conn.SetReadDeadline(time.Now().Add(l.idle))
		n, err := l.r.Read(p)
		// The deadline is for waiting between messages only: clear it
		// before the rest of the frame is read.
		l.conn.SetReadDeadline(time.Time{})
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			l.direct = false
			return 0, errIdle
		}
		l.boundary = false
		return n, err
	}
	l.direct, l.boundary = false, false
	l.buf = readBufs.Get().(*[readBufSize]byte)
	n, err := l.r.Read(l.buf[:])
	if n == 0 {
		l.release()
		return 0, err
	}
	l.i, l.n = 0, n
	k := copy(p, l.buf[:n])
	l.i = k
	if l.i == l.n {
		l.release()
	}
	return k, err
}

// errIdle: the connection was idle for lazyReader.idle.
var errIdle = errors.New("p2pstreams: idle")

// release returns the buffer to the pool.
func (l *lazyReader) release() {
	if l.buf != nil {
		readBufs.Put(l.buf)
		l.buf, l.i, l.n = nil, 0, 0
	}
}
