// Package lazyread reads a connection through a pooled buffer that it holds
// only while data is buffered, so that an idle connection holds none.
package lazyread

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
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
// The server (conn.readLoop) and the benchmarks' floor (internal/bench) use it.
type Reader struct {
	R io.Reader
	// With conn and idle set, a read at a message boundary (the caller sets
	// Boundary before reading a frame header) that waits on the socket longer
	// than idle returns ErrIdle having consumed nothing: the caller may move
	// to a fresh goroutine (see conn.readLoop) and read again. Within a
	// frame, reads wait as long as it takes.
	Conn     net.Conn
	Idle     time.Duration
	Boundary bool
	// Raw, when set (Conn's socket), is read instead of R where the
	// platform allows (Linux): see readRaw.
	Raw syscall.RawConn

	buf  *[readBufSize]byte // nil when empty
	i, n int                // buf[i:n] is unread
	// direct is true when the last read went to the socket unbuffered: the
	// next one is mid-frame and takes a buffer.
	direct bool
}

func (l *Reader) Read(p []byte) (int, error) {
	if l.buf != nil {
		l.Boundary = false
		k := copy(p, l.buf[l.i:l.n])
		l.i += k
		if l.i == l.n {
			l.Release()
		}
		return k, nil
	}
	if l.Raw != nil && rawReads {
		return l.readRaw(p)
	}
	// A boundary read is the start of a frame even when the last read (the
	// end of a payload) went to the socket directly.
	if !l.direct || l.Boundary || len(p) >= readBufSize {
		l.direct = true
		if !l.Boundary || l.Conn == nil || l.Idle <= 0 {
			return l.R.Read(p)
		}
		l.Conn.SetReadDeadline(time.Now().Add(l.Idle))
		n, err := l.R.Read(p)
		// The deadline is for waiting between messages only: clear it
		// before the rest of the frame is read.
		l.Conn.SetReadDeadline(time.Time{})
		if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
			l.direct = false
			return 0, ErrIdle
		}
		l.Boundary = false
		return n, err
	}
	l.direct, l.Boundary = false, false
	l.buf = readBufs.Get().(*[readBufSize]byte)
	n, err := l.R.Read(l.buf[:])
	if n == 0 {
		l.Release()
		return 0, err
	}
	l.i, l.n = 0, n
	k := copy(p, l.buf[:n])
	l.i = k
	if l.i == l.n {
		l.Release()
	}
	return k, err
}

// readRaw reads from the socket once it has data, into p when p is as large
// as a buffer, else into a pooled buffer taken only then (so a waiting
// reader holds none, and a frame that arrived whole costs one read rather
// than one for its first bytes and one for the rest). The reads are raw
// non-blocking system calls: without the runtime's bookkeeping for calls
// that may block, which at everyday rates (all threads idle between
// messages) wakes the runtime's monitor thread at every call.
func (l *Reader) readRaw(p []byte) (int, error) {
	boundary := l.Boundary && l.Conn != nil && l.Idle > 0
	l.Boundary = false
	if boundary {
		l.Conn.SetReadDeadline(time.Now().Add(l.Idle))
	}
	direct := len(p) >= readBufSize
	var n int
	var errno syscall.Errno
	err := l.Raw.Read(func(fd uintptr) bool {
		dst := p
		if !direct {
			l.buf = readBufs.Get().(*[readBufSize]byte)
			dst = l.buf[:]
		}
		n, errno = readNow(fd, dst)
		if errno == syscall.EAGAIN {
			l.Release()
			return false // wait until the socket is readable
		}
		return true
	})
	if boundary {
		// The deadline is for waiting between messages only.
		l.Conn.SetReadDeadline(time.Time{})
	}
	switch {
	case err != nil:
		l.Release()
		if boundary && errors.Is(err, os.ErrDeadlineExceeded) {
			return 0, ErrIdle
		}
		return 0, err
	case errno != 0:
		l.Release()
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		l.Release()
		return 0, io.EOF
	case direct:
		return n, nil
	}
	l.i, l.n = 0, n
	k := copy(p, l.buf[:n])
	l.i = k
	if l.i == l.n {
		l.Release()
	}
	return k, nil
}

// ErrIdle: the connection was idle for Reader.Idle.
var ErrIdle = errors.New("p2pstreams: idle")

// Release returns the buffer to the pool.
func (l *Reader) Release() {
	if l.buf != nil {
		readBufs.Put(l.buf)
		l.buf, l.i, l.n = nil, 0, 0
	}
}

// Buffered reports how many bytes were read from R but not yet from l.
func (l *Reader) Buffered() int { return l.n - l.i }
