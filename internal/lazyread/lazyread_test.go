package lazyread

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"testing/iotest"
	"time"
)

// chunky returns at most the next chunk of a random size on each read, as
// a socket does.
type chunky struct {
	b   []byte
	rng *rand.Rand
}

func (c *chunky) Read(p []byte) (int, error) {
	if len(c.b) == 0 {
		return 0, io.EOF
	}
	n := min(len(p), len(c.b), 1+c.rng.IntN(3*readBufSize))
	copy(p, c.b[:n])
	c.b = c.b[n:]
	return n, nil
}

func TestLazyReaderDeliversEverythingInOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	want := make([]byte, 200_000)
	for i := range want {
		want[i] = byte(rng.Uint32())
	}
	for _, src := range []io.Reader{
		&chunky{want, rng},
		iotest.OneByteReader(bytes.NewReader(want)),
		iotest.HalfReader(bytes.NewReader(want)),
	} {
		l := &Reader{R: src}
		var got []byte
		for {
			p := make([]byte, 1+rng.IntN(2*readBufSize))
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
			t.Fatalf("%T: got %d bytes, not the %d written", src, len(got), len(want))
		}
		if l.buf != nil {
			t.Fatalf("%T: a buffer is held after the data ran out", src)
		}
	}
}

// An idle reader holds no buffer: a read that found the buffer empty goes
// to the source directly.
func TestLazyReaderHoldsNoBufferWhenDrained(t *testing.T) {
	l := &Reader{R: bytes.NewReader([]byte("ab" + "cdefgh"))}
	p := make([]byte, 2)
	if n, _ := l.Read(p); n != 2 || l.buf != nil {
		t.Fatalf("first read: n=%d buffered=%v", n, l.buf != nil)
	}
	p = make([]byte, 3)
	if n, _ := l.Read(p); n != 3 || l.buf == nil {
		t.Fatalf("second read should buffer the rest: n=%d buffered=%v", n, l.buf != nil)
	}
	if n, _ := l.Read(p); n != 3 || l.buf != nil || string(p) != "fgh" {
		t.Fatalf("draining read: n=%d buffered=%v %q", n, l.buf != nil, p)
	}
}

// A wait longer than idle ends with ErrIdle, consuming nothing; reading
// again gets the data, and a deadline never cuts a frame in two.
func TestLazyReaderIdle(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	l := &Reader{R: a, Conn: a, Idle: 20 * time.Millisecond, Boundary: true}
	p := make([]byte, 2)
	if _, err := l.Read(p); !errors.Is(err, ErrIdle) {
		t.Fatalf("idle read: %v", err)
	}
	l.Boundary = true
	go b.Write([]byte("hello"))
	if n, err := io.ReadFull(l, p); err != nil || string(p[:n]) != "he" {
		t.Fatalf("after idle: %q %v", p[:n], err)
	}
	go func() {
		time.Sleep(50 * time.Millisecond) // longer than idle, mid-frame
		b.Write([]byte("!"))
	}()
	rest := make([]byte, 4)
	if n, err := io.ReadFull(l, rest); err != nil || string(rest[:n]) != "llo!" {
		t.Fatalf("mid-frame wait: %q %v", rest[:n], err)
	}
}

// TestLazyReaderIdleAfterDirectPayload: a payload read straight from the
// socket (it arrived in its own write) ends a frame; the next boundary read
// still waits at most Idle, holding no buffer.
func TestLazyReaderIdleAfterDirectPayload(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	l := &Reader{R: a, Conn: a, Idle: 20 * time.Millisecond}
	go func() {
		// A header, its mask, its payload, each in a write of its own.
		for _, w := range []string{"hd", "mk", "payload"} {
			b.Write([]byte(w))
		}
	}()
	hd, payload := make([]byte, 2), make([]byte, 7)
	for range 2 { // the first read goes to the socket, the second through a buffer
		if _, err := io.ReadFull(l, hd); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := io.ReadFull(l, payload); err != nil || string(payload) != "payload" {
		t.Fatalf("payload %q %v", payload, err)
	}
	l.Boundary = true
	if _, err := l.Read(hd); !errors.Is(err, ErrIdle) {
		t.Fatalf("boundary read after a direct payload: %v, want ErrIdle", err)
	}
	if l.buf != nil {
		t.Fatal("an idle reader holds a buffer")
	}
}
