//go:build linux

package p2pstreams

import (
	"context"
	"encoding/json"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// TestIdleConnectionsPark: connections idle for idleMove hold no reader
// goroutine, and parked connections still receive, send, notice that their
// peer went away, and close on Shutdown.
func TestIdleConnectionsPark(t *testing.T) {
	checkNoLeaks(t)
	srv, err := NewServer(&Options{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	url := "ws" + strings.TrimPrefix(httptestServer(t, srv), "http") + "/"
	const pairs = 10
	hosts, clients := make([]*testPeer, pairs), make([]*testPeer, pairs)
	for i := range pairs {
		room := SessionID(fmt.Sprint("park-", i))
		hosts[i], _ = join(t, srv, url, room, "host")
		clients[i], _ = join(t, srv, url, room, "client")
		hosts[i].expect(protocol.SessionReady) // about its client
	}
	joined := runtime.NumGoroutine()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > joined-2*pairs+2 {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines with %d idle connections, %d when they had just joined: the readers did not park\n%s", runtime.NumGoroutine(), 2*pairs, joined, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}

	// A parked client sends (its reader resumes), a parked host receives and
	// answers.
	for i := range pairs {
		clients[i].send(protocol.Message{State: protocol.SdpOffer, To: "host", Data: json.RawMessage(`{"sdp":"o"}`)})
	}
	for i := range pairs {
		if m := hosts[i].expect(protocol.SdpOffer); m.From != "client" {
			t.Fatalf("offer from %q", m.From)
		}
		hosts[i].send(protocol.Message{State: protocol.SdpAnswer, To: "client", Data: json.RawMessage(`{"sdp":"a"}`)})
		clients[i].expect(protocol.SdpAnswer)
	}

	// Parked again, a host whose socket closes is noticed: its client is told.
	for runtime.NumGoroutine() > joined-2*pairs+2 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	hosts[0].nc.Close()
	if m := clients[0].expect(protocol.HostLeft); m.HostPeerID != "host" {
		t.Fatalf("HostLeft %+v", m)
	}

	// Shutdown reaches parked connections, which answer the close.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	for _, p := range append(hosts[1:], clients...) {
		p.expect(protocol.ServerShutdown)
		if status, _, _ := p.expectClose(); status != ws.StatusGoingAway {
			t.Fatalf("closed with %d", status)
		}
		wsutil.WriteClientMessage(p.nc, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}
