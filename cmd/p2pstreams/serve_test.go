package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// lineWriter collects output and reports the first match of a pattern.
type lineWriter struct {
	mu    sync.Mutex
	buf   strings.Builder
	re    *regexp.Regexp
	found chan string
	once  sync.Once
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	if m := w.re.FindString(w.buf.String()); m != "" {
		w.once.Do(func() { w.found <- m })
	}
	return len(p), nil
}

func (w *lineWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// serve runs `p2pstreams serve` on a free loopback port; it returns the URL it
// printed and a func that stops it (as SIGINT would) and returns run's error.
func serve(t *testing.T, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	out := &lineWriter{re: regexp.MustCompile(`http://\S+/`), found: make(chan string, 1)}
	errOut := &lineWriter{re: regexp.MustCompile(`$^`), found: make(chan string, 1)}
	done := make(chan error, 1)
	go func() { done <- run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), out, errOut) }()
	var url string
	select {
	case url = <-out.found:
	case err := <-done:
		cancel()
		t.Fatalf("serve ended before printing its URL: %v\nstderr: %s", err, errOut.String())
	case <-time.After(10 * time.Second):
		cancel()
		t.Fatalf("serve printed no URL; stdout %q stderr %q", out.String(), errOut.String())
	}
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				err = errors.New("serve did not stop within 10s of its context ending")
			}
		})
		return err
	}
	t.Cleanup(func() { stop() })
	return url, stop
}

func get(t *testing.T, url string) (string, http.Header) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	return string(b), resp.Header
}

func TestServeDemoClientAndShutdown(t *testing.T) {
	secret := "serve-test-secret-0123456789"
	base, stop := serve(t, "--secret", secret)

	index, _ := get(t, base)
	for _, want := range []string{`placeholder="name"`, `placeholder="room"`, ">Join</button>"} {
		if !strings.Contains(index, want) {
			t.Errorf("the demo's form lacks %s", want)
		}
	}
	room, _ := get(t, base+"room?name=alice")
	if !strings.Contains(room, "<p2p-frame token=") || !strings.Contains(room, "room <b>lobby</b>") {
		t.Errorf("the room page lacks the frame or the default room:\n%s", room)
	}
	js, h := get(t, base+"p2p/p2pstreams.js")
	if !strings.Contains(h.Get("Content-Type"), "javascript") || !strings.Contains(js, "P2pFrameElement") {
		t.Errorf("p2pstreams.js served as %q", h.Get("Content-Type"))
	}

	// A peer joins with a token signed by --secret, then the server stops:
	// it is told, and its WebSocket is closed as going away.
	tok, err := token.Issue([]byte(secret), token.Claims{Session: "lobby", Peer: "bot", Expires: time.Now().Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, _, err := ws.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"p2p/")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	join, _ := json.Marshal(protocol.Message{Type: protocol.Type, State: protocol.SessionJoin, Token: tok})
	if err := wsutil.WriteClientText(conn, join); err != nil {
		t.Fatal(err)
	}
	if m := read(t, conn); m.State != protocol.SessionReady || m.HostPeerID != "bot" {
		t.Fatalf("got %+v, want SessionReady with bot as host", m)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- stop() }()
	if m := read(t, conn); m.State != protocol.ServerShutdown {
		t.Fatalf("got %+v, want ServerShutdown", m)
	}
	// An error that closes comes as an Error message first (PROTOCOL.md).
	if m := read(t, conn); m.State != protocol.Error || m.Code != protocol.CodeServerShutdown {
		t.Fatalf("got %+v, want Error server_shutdown", m)
	}
	b, err := wsutil.ReadServerText(conn)
	var closed wsutil.ClosedError
	if !errors.As(err, &closed) || closed.Code != ws.StatusGoingAway {
		t.Errorf("after ServerShutdown: %q, %v; want a 1001 close", b, err)
	}
	if err := <-stopped; err != nil {
		t.Errorf("serve returned %v after its context ended, want nil", err)
	}
	if _, err := http.Get(base); err == nil {
		t.Error("the HTTP server still answers after serve returned")
	}
}

func read(t *testing.T, conn net.Conn) protocol.Message {
	t.Helper()
	// Each read has its own 10 s: a deadline set once at dial ran out in a
	// test that waited on a browser page in between (TestAdminPage, loaded CI).
	conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	b, err := wsutil.ReadServerText(conn)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m protocol.Message
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

func TestServeFlagsAndEnv(t *testing.T) {
	t.Setenv("P2PSTREAMS_SECRET", "short")
	if errOut, err := serveErr(t); err == nil || !strings.Contains(err.Error()+errOut, "16 bytes") {
		t.Errorf("a 5-byte secret from the environment: err %v, stderr %q; want a refusal naming 16 bytes", err, errOut)
	}
	t.Setenv("P2PSTREAMS_SECRET", "")
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"serve", "--nope"}, &out, &errOut); !errors.Is(err, errUsage) || !strings.Contains(errOut.String(), "-addr") {
		t.Errorf("unknown flag: %v, stderr %q; want errUsage and the flags", err, errOut.String())
	}
	if err := run(context.Background(), []string{"serve", "extra"}, &out, &errOut); err == nil {
		t.Error("serve with an argument did not fail")
	}
}

// serveErr runs serve until it fails by itself (it must, for a bad config).
func serveErr(t *testing.T) (stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var out, errOut strings.Builder
	err = run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, &out, &errOut)
	return errOut.String(), err
}
