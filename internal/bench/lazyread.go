package bench

import (
	"io"
	"sync"
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
// This is the technique suggested for the server's readLoop (BENCHMARKS.md);
// the floor uses it so that it is not slowed by read calls.
type lazyReader struct {
	r    io.Reader
	buf  *[readBufSize]byte // nil when empty
	i, n int                // buf[i:n] is unread
	// direct is true when the last read went to the socket unbuffered: the
	// next one is mid-frame and takes a buffer.
	direct bool
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.buf != nil {
		k := copy(p, l.buf[l.i:l.n])
		l.i += k
		if l.i == l.n {
			l.release()
		}
		return k, nil
	}
	if !l.direct || len(p) >= readBufSize {
		l.direct = true
		return l.r.Read(p)
	}
	l.direct = false
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

// release returns the buffer to the pool.
func (l *lazyReader) release() {
	if l.buf != nil {
		readBufs.Put(l.buf)
		l.buf, l.i, l.n = nil, 0, 0
	}
}
