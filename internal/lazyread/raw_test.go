package lazyread

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (*net.TCPConn, *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dialed := make(chan net.Conn, 1)
	go func() {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Error(err)
		}
		dialed <- c
	}()
	a, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	b := <-dialed
	if b == nil {
		t.FailNow()
	}
	t.Cleanup(func() { a.Close(); b.Close() })
	return a.(*net.TCPConn), b.(*net.TCPConn)
}

func rawOf(t *testing.T, c *net.TCPConn) syscall.RawConn {
	raw, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// Through the socket's raw reads, everything written arrives in order
// whatever the sizes of writes and reads, and the drained reader holds no
// buffer.
func TestRawReadsDeliverEverythingInOrder(t *testing.T) {
	a, b := tcpPair(t)
	rng := rand.New(rand.NewPCG(3, 4))
	want := make([]byte, 300_000)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	go func() {
		w := want
		for len(w) > 0 {
			n := min(len(w), 1+rng.IntN(3*readBufSize))
			if _, err := b.Write(w[:n]); err != nil {
				return
			}
			w = w[n:]
		}
		b.CloseWrite()
	}()
	l := &Reader{R: a, Conn: a, Idle: time.Minute, Raw: rawOf(t, a)}
	var got []byte
	for i := 0; ; i++ {
		l.Boundary = i%3 == 0
		p := make([]byte, 1+i%(2*readBufSize))
		n, err := l.Read(p)
		got = append(got, p[:n]...)
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got %d bytes, not the %d written (or not the same)", len(got), len(want))
	}
	if l.buf != nil {
		t.Fatal("a buffer is held after the data ran out")
	}
}

// A boundary read through raw reads waits at most Idle (ErrIdle, nothing
// consumed, no buffer held); a mid-frame read waits as long as it takes;
// one read takes what arrived whole into a buffer.
func TestRawReadsIdle(t *testing.T) {
	a, b := tcpPair(t)
	l := &Reader{R: a, Conn: a, Idle: 20 * time.Millisecond, Raw: rawOf(t, a), Boundary: true}
	p := make([]byte, 2)
	if _, err := l.Read(p); !errors.Is(err, ErrIdle) || l.buf != nil {
		t.Fatalf("idle read: %v, buffer held %v", err, l.buf != nil)
	}
	b.Write([]byte("hello"))
	l.Boundary = true
	if n, err := io.ReadFull(l, p); err != nil || string(p[:n]) != "he" {
		t.Fatalf("after idle: %q %v", p[:n], err)
	}
	if l.Buffered() != 3 {
		t.Fatalf("buffered %d bytes after the first read, want the 3 that arrived with it", l.Buffered())
	}
	go func() {
		time.Sleep(50 * time.Millisecond) // longer than idle, mid-frame
		b.Write([]byte("!"))
	}()
	rest := make([]byte, 4)
	if n, err := io.ReadFull(l, rest); err != nil || string(rest[:n]) != "llo!" {
		t.Fatalf("mid-frame wait: %q %v", rest[:n], err)
	}
	b.Close()
	l.Boundary = true
	if _, err := l.Read(p); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want EOF", err)
	}
}
