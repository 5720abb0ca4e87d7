package p2pstreams_test

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/p2pstreams/p2pstreams"
)

// Server routing benchmarks: real WebSockets over loopback, a client whose
// reads and writes do not allocate, so that allocs/op is (nearly) the
// server's allocations per routed message. ns/op includes the client's and
// the kernel's share; `p2pstreams bench relay` measures throughput properly.

var benchSecret = []byte("bench-secret-0123456789abcdef")

type benchClient struct {
	nc  net.Conn
	br  *bufio.Reader
	hdr []byte
	buf []byte
	out []byte
}

func dialBench(b *testing.B, url string) *benchClient {
	b.Helper()
	nc, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	if br == nil {
		br = bufio.NewReader(nc)
	}
	b.Cleanup(func() { nc.Close() })
	return &benchClient{nc: nc, br: br, hdr: make([]byte, ws.MaxHeaderSize), buf: make([]byte, 64<<10)}
}

// send writes p as one masked text frame (all-zero mask: valid, and the
// payload needs no copy).
func (c *benchClient) send(b *testing.B, p []byte) {
	c.out = c.out[:0]
	n := len(p)
	c.out = append(c.out, 0x81)
	if n < 126 {
		c.out = append(c.out, 0x80|byte(n))
	} else {
		c.out = append(c.out, 0x80|126, byte(n>>8), byte(n))
	}
	c.out = append(c.out, 0, 0, 0, 0)
	c.out = append(c.out, p...)
	if _, err := c.nc.Write(c.out); err != nil {
		b.Fatal(err)
	}
}

func (c *benchClient) recv(b *testing.B) []byte {
	h, err := ws.ReadHeaderBuffer(c.br, c.hdr)
	if err != nil {
		b.Fatal(err)
	}
	p := c.buf[:h.Length]
	if _, err := io.ReadFull(c.br, p); err != nil {
		b.Fatal(err)
	}
	return p
}

func (c *benchClient) join(b *testing.B, srv *p2pstreams.Server, session, peer string) {
	tok, err := srv.Token(p2pstreams.SessionID(session), p2pstreams.PeerID(peer), time.Hour, nil)
	if err != nil {
		b.Fatal(err)
	}
	c.send(b, []byte(`{"type":"Connection","state":"SessionJoin","token":"`+tok+`"}`))
	for {
		p := string(c.recv(b))
		if strings.Contains(p, `"Error"`) {
			b.Fatal(p)
		}
		if strings.Contains(p, `"SessionReady"`) && strings.Contains(p, `"peerId":"`+peer+`"`) {
			return
		}
	}
}

func benchServer(b *testing.B) (*p2pstreams.Server, string) {
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: benchSecret, RateLimit: -1})
	if err != nil {
		b.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http") + "/"
}

func routed(size int) []byte {
	head := `{"type":"Connection","state":"IceCandidate","to":"bob","data":{"candidate":"`
	tail := `"}}`
	return []byte(head + strings.Repeat("x", size-len(head)-len(tail)) + tail)
}

// benchRoute sends b.N routed messages from alice to bob, window at a time,
// and reads them all.
func benchRoute(b *testing.B, size int) {
	srv, url := benchServer(b)
	alice, bob := dialBench(b, url), dialBench(b, url)
	alice.join(b, srv, "s", "alice")
	bob.join(b, srv, "s", "bob")
	// alice gets SessionReady about bob: read it before measuring.
	alice.recv(b)
	msg := routed(size)
	const window = 64
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	sent, got := 0, 0
	for got < b.N {
		for sent < b.N && sent-got < window {
			alice.send(b, msg)
			sent++
		}
		bob.recv(b)
		got++
	}
}

func BenchmarkRoute256(b *testing.B) { benchRoute(b, 256) }
func BenchmarkRoute4K(b *testing.B)  { benchRoute(b, 4096) }

// BenchmarkJoin measures one connection's SessionJoin to SessionReady (the
// connection is opened outside the timer).
func BenchmarkJoin(b *testing.B) {
	srv, url := benchServer(b)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		c := dialBench(b, url)
		b.StartTimer()
		c.join(b, srv, "join-"+strconv.Itoa(i), "p")
		b.StopTimer()
		c.nc.Close()
		b.StartTimer()
	}
}
