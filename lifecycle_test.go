package p2pstreams

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/protocol"
)

func TestHostLeavingResetsSession(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, nil)
	host, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	carol, _ := join(t, srv, url, "room", "carol")
	host.nc.Close()
	for _, p := range []*testPeer{bob, carol} {
		if m := p.expect(protocol.HostLeft); m.HostPeerID != "alice" || m.SessionID != "room" {
			t.Fatalf("HostLeft %+v", m)
		}
		// The connection is no longer joined.
		p.send(protocol.Message{State: protocol.SdpOffer, To: "alice", Data: json.RawMessage(`{}`)})
		p.expectError(protocol.CodeNotJoined)
	}
	// The first to come back is the new host; the next one is told so.
	bob.join(srv, "room", "bob")
	if m := bob.expect(protocol.SessionReady); m.HostPeerID != "bob" {
		t.Fatalf("bob rejoined under %q, want to host", m.HostPeerID)
	}
	carol.join(srv, "room", "carol")
	if m := carol.expect(protocol.SessionReady); m.HostPeerID != "bob" {
		t.Fatalf("carol rejoined under %q", m.HostPeerID)
	}
	if m := bob.expect(protocol.SessionReady); m.PeerID != "carol" {
		t.Fatalf("new host got %+v", m)
	}
	// A reset peer that joins another session keeps no way in to the old one.
	dave, _ := join(t, srv, url, "room", "dave")
	bob.expect(protocol.SessionReady)
	bob.send(protocol.Message{State: protocol.SessionLeave})
	carol.expect(protocol.HostLeft)
	dave.expect(protocol.HostLeft)
	dave.join(srv, "elsewhere", "dave")
	dave.expect(protocol.SessionReady)
	carol.join(srv, "room", "carol")
	carol.expect(protocol.SessionReady)
	carol.send(protocol.Message{State: protocol.SdpOffer, To: "dave", Data: json.RawMessage(`{}`)})
	carol.expectError(protocol.CodePeerNotFound)
	bob.join(srv, "room", "bob")
	bob.expect(protocol.SessionReady)
	carol.expect(protocol.SessionReady)

	// alice, back, is a client now.
	_, m := join(t, srv, url, "room", "alice")
	if m.HostPeerID != "carol" {
		t.Fatalf("alice came back under %q", m.HostPeerID)
	}
}

func TestHostSessionLeave(t *testing.T) {
	srv, url := newTestServer(t, nil)
	host, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	host.expect(protocol.SessionReady)
	host.send(protocol.Message{State: protocol.SessionLeave})
	bob.expect(protocol.HostLeft)
	// The host's connection stays open and can join again: as a client now.
	bob.join(srv, "room", "bob")
	bob.expect(protocol.SessionReady)
	host.join(srv, "room", "alice")
	if m := host.expect(protocol.SessionReady); m.HostPeerID != "bob" {
		t.Fatalf("alice rejoined under %q", m.HostPeerID)
	}
}

func TestClientsComeAndGo(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{MaxPeers: 3})
	host, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	host.expect(protocol.SessionReady)
	carol, _ := join(t, srv, url, "room", "carol")
	host.expect(protocol.SessionReady)

	// A client closing its WebSocket stays a member: it can come back (a
	// reload) and is not counted twice; the host is not disturbed.
	bob.nc.Close()
	bob, _ = joinRetrying(t, srv, url, "room", "bob", protocol.CodePeerConnected)
	if m := host.expect(protocol.SessionReady); m.PeerID != "bob" {
		t.Fatalf("host got %+v", m)
	}
	d := dial(t, url)
	d.join(srv, "room", "dave")
	d.expectError(protocol.CodeSessionFull)

	// SessionLeave frees the place and tells the host.
	bob.send(protocol.Message{State: protocol.SessionLeave})
	if m := host.expect(protocol.PeerLeft); m.PeerID != "bob" {
		t.Fatalf("host got %+v", m)
	}
	d.join(srv, "room", "dave")
	d.expect(protocol.SessionReady)
	host.expect(protocol.SessionReady)

	// Only the host may report a peer gone; then that place is free too.
	carol.send(protocol.Message{State: protocol.PeerLeft, PeerID: "dave"})
	carol.expectError(protocol.CodeNotHost)
	host.send(protocol.Message{State: protocol.PeerLeft, PeerID: "dave"})
	joinRetrying(t, srv, url, "room", "erin", protocol.CodeSessionFull)
}

func TestConcurrentJoinsElectOneHost(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, nil)
	const n = 40
	var wg sync.WaitGroup
	hosts := make(chan PeerID, 2*n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := dial(t, url)
			id := PeerID(fmt.Sprintf("p%d", i))
			p.join(srv, "race", id)
			m, err := p.read()
			if err != nil || m.State != protocol.SessionReady {
				t.Errorf("%s: %+v %v", id, m, err)
				return
			}
			hosts <- m.HostPeerID
			if m.HostPeerID == id {
				hosts <- "self:" + id
			}
		}()
	}
	wg.Wait()
	close(hosts)
	seen, selfHosts := map[PeerID]bool{}, 0
	for h := range hosts {
		if strings.HasPrefix(string(h), "self:") {
			selfHosts++
		} else {
			seen[h] = true
		}
	}
	if len(seen) != 1 || selfHosts != 1 {
		t.Fatalf("hosts seen %v, self-hosts %d: want exactly one", seen, selfHosts)
	}
}

func TestShutdownTellsClients(t *testing.T) {
	checkNoLeaks(t)
	srv, err := NewServer(&Options{Secret: testSecret})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptestServer(t, srv)
	url := "ws" + strings.TrimPrefix(hs, "http") + "/"
	a, _ := join(t, srv, url, "room", "alice")
	b := dial(t, url) // not joined
	// The client sees the upgrade answer before the server has added the
	// connection: a Shutdown in between refuses it (and the client reads EOF).
	for srv.Stats().Connections < 2 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4500*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(ctx) }()
	for _, p := range []*testPeer{a, b} {
		m := p.expect(protocol.ServerShutdown)
		if m.Seconds < 3 || m.Seconds > 4 {
			t.Errorf("seconds = %d, want 4 or so", m.Seconds)
		}
		status, reason, codes := p.expectClose()
		if status != ws.StatusGoingAway || reason != string(protocol.CodeServerShutdown) || len(codes) != 1 {
			t.Errorf("closed with %d %q after %v", status, reason, codes)
		}
		// Answer the close, as a browser does.
		wsutil.WriteClientMessage(p.nc, ws.OpClose, ws.NewCloseFrameBody(ws.StatusNormalClosure, ""))
	}
	if err := <-done; err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, _, _, err := ws.Dial(context.Background(), url); err == nil {
		t.Fatal("dial after Shutdown succeeded")
	}
	if n := srv.Stats().Connections; n != 0 {
		t.Fatalf("%d connections after Shutdown", n)
	}
}

func TestSlowReaderIsClosedOthersCarryOn(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{SendQueueBytes: 256 << 10, RateLimit: -1, WriteTimeout: time.Second})
	host, _ := join(t, srv, url, "room", "alice")
	slow, _ := join(t, srv, url, "room", "slow")
	host.expect(protocol.SessionReady)
	fast, _ := join(t, srv, url, "room", "fast")
	host.expect(protocol.SessionReady)

	// The slow peer never reads: flood it with big messages until the
	// kernel buffers and then its queue fill.
	big := json.RawMessage(`{"sdp":"` + strings.Repeat("x", 60000) + `"}`)
	closed := false
	for i := 0; i < 2000 && !closed; i++ {
		host.send(protocol.Message{State: protocol.SdpOffer, To: "slow", Data: big})
		host.send(protocol.Message{State: protocol.SdpOffer, To: "fast", Data: json.RawMessage(`{"i":1}`)})
		fast.expect(protocol.SdpOffer) // the fast peer is never held up
		closed = srv.Stats().SlowClosed > 0
	}
	if !closed {
		t.Fatal("the slow reader was never closed")
	}
	if n := srv.Stats().Errors[string(protocol.CodeSlowReader)]; n != 1 {
		t.Fatalf("slow_reader counted %d times", n)
	}
	_ = slow
}

func TestOversizedFrameCloses(t *testing.T) {
	srv, url := newTestServer(t, &Options{MaxMessageBytes: 1024})
	p, _ := join(t, srv, url, "room", "alice")
	p.sendRaw(`{"type":"Connection","state":"SessionLeave","pad":"` + strings.Repeat("x", 1100) + `"}`)
	status, reason, codes := p.expectClose()
	if status != ws.StatusMessageTooBig || reason != string(protocol.CodeTooLarge) || len(codes) != 1 {
		t.Fatalf("closed with %d %q %v", status, reason, codes)
	}
	// Another peer of the same server is unaffected.
	q, _ := join(t, srv, url, "room2", "bob")
	q.send(protocol.Message{State: protocol.SessionLeave})
	q.sendRaw("{")
	q.expectError(protocol.CodeBadMessage)
}

func TestRateLimit(t *testing.T) {
	srv, url := newTestServer(t, &Options{RateLimit: 1, RateBurst: 3})
	p := dial(t, url)
	for range 3 {
		p.sendRaw("{")
		p.expectError(protocol.CodeBadMessage)
	}
	p.sendRaw("{")
	p.expectError(protocol.CodeRateLimited)
	_ = srv
}

func TestOriginAndFiles(t *testing.T) {
	srv, url := newTestServer(t, nil)
	_ = srv
	h := http.Header{"Origin": {"https://evil.example"}}
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(h)}
	if _, _, _, err := d.Dial(context.Background(), url); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("foreign origin: %v, want 403", err)
	}
	base := "http" + strings.TrimPrefix(url, "ws")
	res, err := http.Get(base + "p2pstreams.js")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(res.Header.Get("Content-Type"), "javascript") || len(body) == 0 {
		t.Fatalf("client file: %d %q %d bytes", res.StatusCode, res.Header.Get("Content-Type"), len(body))
	}
	res, err = http.Get(base + "nope.js")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 404 {
		t.Fatalf("missing file: %d", res.StatusCode)
	}
}
