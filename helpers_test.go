package p2pstreams

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/protocol"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// newTestServer starts a Server behind a real HTTP server. It is shut down
// when the test ends.
func newTestServer(t *testing.T, o *Options) (*Server, string) {
	t.Helper()
	if o == nil {
		o = &Options{}
	}
	if o.Secret == nil {
		o.Secret = testSecret
	}
	srv, err := NewServer(o)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		hs.Close()
	})
	return srv, "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/"
}

// testPeer is a WebSocket client speaking the protocol by hand.
type testPeer struct {
	t  *testing.T
	nc net.Conn
}

func dial(t *testing.T, url string) *testPeer {
	t.Helper()
	nc, br, _, err := ws.Dial(context.Background(), url)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if br != nil {
		t.Fatal("server sent data before the client spoke")
	}
	t.Cleanup(func() { nc.Close() })
	return &testPeer{t: t, nc: nc}
}

// join dials url and joins session as peer, returning the peer and its
// SessionReady.
func join(t *testing.T, srv *Server, url string, s SessionID, p PeerID) (*testPeer, protocol.Message) {
	t.Helper()
	tp := dial(t, url)
	tp.join(srv, s, p)
	return tp, tp.expect(protocol.SessionReady)
}

// joinRetrying joins as join does, but dials and joins again while the
// refusal is retry (as a client does after a retry code) for 2 s at most:
// the server acts on a closed socket or a host's report a moment after the
// test's last read.
func joinRetrying(t *testing.T, srv *Server, url string, s SessionID, p PeerID, retry protocol.Code) (*testPeer, protocol.Message) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		tp := dial(t, url)
		tp.join(srv, s, p)
		m := tp.next()
		if m.State == protocol.SessionReady {
			return tp, m
		}
		if m.State != protocol.Error || m.Code != retry || time.Now().After(deadline) {
			t.Fatalf("%s: got %s %+v, want SessionReady", p, m.State, m)
		}
		tp.nc.Close()
	}
}

func (tp *testPeer) join(srv *Server, s SessionID, p PeerID) {
	tp.t.Helper()
	tok, err := srv.Token(s, p, time.Hour, nil)
	if err != nil {
		tp.t.Fatal(err)
	}
	tp.send(protocol.Message{State: protocol.SessionJoin, Token: tok})
}

func (tp *testPeer) send(m protocol.Message) {
	tp.t.Helper()
	m.Type = protocol.Type
	b, _ := json.Marshal(m)
	tp.sendRaw(string(b))
}

func (tp *testPeer) sendRaw(s string) {
	tp.t.Helper()
	if err := wsutil.WriteClientText(tp.nc, []byte(s)); err != nil {
		tp.t.Fatalf("write: %v", err)
	}
}

// read returns the next data message, or the close error.
func (tp *testPeer) read() (protocol.Message, error) {
	tp.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	b, err := wsutil.ReadServerText(tp.nc)
	if err != nil {
		return protocol.Message{}, err
	}
	var m protocol.Message
	if err := json.Unmarshal(b, &m); err != nil {
		tp.t.Fatalf("server sent invalid JSON %q: %v", b, err)
	}
	return m, nil
}

func (tp *testPeer) next() protocol.Message {
	tp.t.Helper()
	m, err := tp.read()
	if err != nil {
		tp.t.Fatalf("read: %v", err)
	}
	return m
}

func (tp *testPeer) expect(state protocol.State) protocol.Message {
	tp.t.Helper()
	m := tp.next()
	if m.State != state {
		tp.t.Fatalf("got %s %+v, want %s", m.State, m, state)
	}
	return m
}

func (tp *testPeer) expectError(code protocol.Code) {
	tp.t.Helper()
	if m := tp.expect(protocol.Error); m.Code != code {
		tp.t.Fatalf("got error %s (%s), want %s", m.Code, m.Text, code)
	}
}

// expectClose reads until the server closes, and returns the close status
// and reason, and the Error codes received on the way.
func (tp *testPeer) expectClose() (ws.StatusCode, string, []protocol.Code) {
	tp.t.Helper()
	status, reason, codes, err := tp.readToClose()
	if err != nil {
		tp.t.Fatalf("read: %v, want a close frame", err)
	}
	return status, reason, codes
}

// readToClose is expectClose for any goroutine: it returns the read error.
func (tp *testPeer) readToClose() (ws.StatusCode, string, []protocol.Code, error) {
	var codes []protocol.Code
	for {
		m, err := tp.read()
		var ce wsutil.ClosedError
		if errors.As(err, &ce) {
			return ce.Code, ce.Reason, codes, nil
		}
		if err != nil {
			return 0, "", codes, err
		}
		if m.State == protocol.Error {
			codes = append(codes, m.Code)
		}
	}
}

// checkNoLeaks fails t if goroutines started by the test are still running
// shortly after it ends. Call it first, so that its check runs last.
func checkNoLeaks(t *testing.T) {
	base := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > base && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > base {
			buf := make([]byte, 1<<16)
			t.Errorf("%d goroutines left behind:\n%s", n-base, buf[:runtime.Stack(buf, true)])
		}
	})
}

func httptestServer(t *testing.T, h http.Handler) string {
	hs := httptest.NewServer(h)
	t.Cleanup(hs.Close)
	return hs.URL
}
