package p2pstreams

import (
	"context"
	"encoding/json"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Frames RFC 6455 does not allow fail the connection with 1002 (1007 for a
// close reason that is not UTF-8); a valid close is answered 1000.
func TestRFC6455Violations(t *testing.T) {
	checkNoLeaks(t)
	_, url := newTestServer(t, nil)
	leave := []byte(`{"type":"Connection","state":"SessionLeave"}`)
	closeBody := func(code ws.StatusCode, reason string) []byte { return ws.NewCloseFrameBody(code, reason) }
	cases := []struct {
		name   string
		frame  ws.Frame
		status ws.StatusCode
		error  bool // an Error bad_message comes first
	}{
		{"RSV1 without an extension", ws.Frame{Header: ws.Header{Fin: true, Rsv: ws.Rsv(true, false, false), OpCode: ws.OpText}, Payload: leave}, ws.StatusProtocolError, true},
		{"RSV3", ws.Frame{Header: ws.Header{Fin: true, Rsv: ws.Rsv(false, false, true), OpCode: ws.OpPing}}, ws.StatusProtocolError, true},
		{"opcode 0x3", ws.Frame{Header: ws.Header{Fin: true, OpCode: 0x3}, Payload: leave}, ws.StatusProtocolError, true},
		{"opcode 0xB", ws.Frame{Header: ws.Header{Fin: true, OpCode: 0xB}}, ws.StatusProtocolError, true},
		{"close 999", ws.NewCloseFrame(closeBody(999, "")), ws.StatusProtocolError, false},
		{"close 1005", ws.NewCloseFrame(closeBody(ws.StatusNoStatusRcvd, "")), ws.StatusProtocolError, false},
		{"close 1-byte payload", ws.NewCloseFrame([]byte{0x03}), ws.StatusProtocolError, false},
		{"close reason not UTF-8", ws.NewCloseFrame(closeBody(ws.StatusNormalClosure, "\xff\xfe")), ws.StatusInvalidFramePayloadData, false},
		{"close 1000", ws.NewCloseFrame(closeBody(ws.StatusNormalClosure, "bye")), ws.StatusNormalClosure, false},
		{"close without payload", ws.NewCloseFrame(nil), ws.StatusNormalClosure, false},
		{"close 5000", ws.NewCloseFrame(closeBody(5000, "")), ws.StatusProtocolError, false},
		{"close 4000", ws.NewCloseFrame(closeBody(4000, "app")), ws.StatusNormalClosure, false},
	}
	for _, c := range cases {
		p := dial(t, url)
		f := c.frame
		f.Header.Length = int64(len(f.Payload))
		if err := ws.WriteFrame(p.nc, ws.MaskFrame(f)); err != nil {
			t.Fatal(err)
		}
		status, _, codes, err := p.readToClose()
		wantCodes := 0
		if c.error {
			wantCodes = 1
		}
		if err != nil || status != c.status || len(codes) != wantCodes || (c.error && codes[0] != protocol.CodeBadMessage) {
			t.Errorf("%s: closed %d after %v (%v), want %d", c.name, status, codes, err, c.status)
		}
		p.nc.Close()
	}
}

func TestFromSetBySenderIsRefused(t *testing.T) {
	srv, url := newTestServer(t, nil)
	host, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	host.expect(protocol.SessionReady)
	for _, from := range []string{`""`, `null`, `"carol"`} {
		bob.sendRaw(`{"type":"Connection","state":"IceCandidate","to":"alice","from":` + from + `,"data":{}}`)
		bob.expectError(protocol.CodeBadMessage)
	}
	bob.send(protocol.Message{State: protocol.IceCandidate, To: "alice", Data: json.RawMessage(`{"ok":1}`)})
	if m := host.expect(protocol.IceCandidate); string(m.Data) != `{"ok":1}` {
		t.Fatalf("host got %+v: want only the message without from", m)
	}
}

// deadlineBroker is a MemoryBroker that records whether each Publish had a
// deadline within StoreTimeout.
type deadlineBroker struct {
	*MemoryBroker
	timeout            time.Duration
	bounded, unbounded atomic.Int64
}

func (b *deadlineBroker) Publish(ctx context.Context, topic string, msg []byte) (int, error) {
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) <= b.timeout {
		b.bounded.Add(1)
	} else {
		b.unbounded.Add(1)
	}
	return b.MemoryBroker.Publish(ctx, topic, msg)
}

// Every Publish, routing's included, is bounded by StoreTimeout.
func TestRoutePublishIsBounded(t *testing.T) {
	b := &deadlineBroker{MemoryBroker: NewMemoryBroker(), timeout: 3 * time.Second}
	srv, url := newTestServer(t, &Options{Broker: b, StoreTimeout: b.timeout})
	host, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	host.expect(protocol.SessionReady)
	for range 10 {
		bob.send(protocol.Message{State: protocol.IceCandidate, To: "alice", Data: json.RawMessage(`{}`)})
		host.expect(protocol.IceCandidate)
	}
	if b.unbounded.Load() != 0 || b.bounded.Load() < 11 {
		t.Fatalf("%d Publish calls without a deadline, %d with", b.unbounded.Load(), b.bounded.Load())
	}
}

// blockingStore is a MemoryStore whose Refresh waits for its context to end,
// and whose Join waits for release when the joiner is "slowjoin".
type blockingStore struct {
	*MemoryStore
	refreshing atomic.Int64 // Refresh calls in flight
	refreshed  atomic.Int64 // Refresh calls started
	joining    chan struct{}
	release    chan struct{}
	once       sync.Once
}

func (s *blockingStore) Refresh(ctx context.Context, sid SessionID, p PeerID, lease time.Duration) error {
	s.refreshed.Add(1)
	s.refreshing.Add(1)
	defer s.refreshing.Add(-1)
	<-ctx.Done()
	return ctx.Err()
}

func (s *blockingStore) RefreshBatch(ctx context.Context, ms []Member, lease time.Duration) []error {
	errs := make([]error, len(ms))
	for i := range ms {
		errs[i] = s.Refresh(ctx, ms[i].Session, ms[i].Peer, lease)
	}
	return errs
}

func (s *blockingStore) Join(ctx context.Context, sid SessionID, p PeerID, o JoinOptions) (PeerID, error) {
	if p == "slowjoin" {
		s.once.Do(func() { close(s.joining) })
		<-s.release
	}
	return s.MemoryStore.Join(ctx, sid, p, o)
}

// Shutdown, even when its context ends first, returns only once the lease
// refresher has stopped calling the store.
func TestShutdownWaitsForTheRefresher(t *testing.T) {
	store := &blockingStore{MemoryStore: NewMemoryStore()}
	srv, err := NewServer(&Options{Secret: testSecret, Store: store, Lease: 30 * time.Millisecond, StoreTimeout: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	url := "ws" + httptestServer(t, srv)[len("http"):] + "/"
	join(t, srv, url, "room", "alice")
	for store.refreshing.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	srv.Shutdown(ctx)
	n := store.refreshed.Load()
	if k := store.refreshing.Load(); k != 0 {
		t.Fatalf("Shutdown returned with %d Refresh calls in flight", k)
	}
	time.Sleep(100 * time.Millisecond) // three refresh periods
	if store.refreshed.Load() != n {
		t.Fatal("the refresher called the store after Shutdown returned")
	}
}

// Messages for a joiner that arrive while it joins wait in the gate; more
// than the 256 frames the gate once held are all delivered (it is bounded in
// bytes, as the queue is).
func TestJoinGateKeepsEverything(t *testing.T) {
	checkNoLeaks(t)
	store := &blockingStore{MemoryStore: NewMemoryStore(), joining: make(chan struct{}), release: make(chan struct{})}
	srv, url := newTestServer(t, &Options{Store: store, Lease: -1})
	host, _ := join(t, srv, url, "room", "alice")
	p := dial(t, url)
	p.join(srv, "room", "slowjoin")
	<-store.joining // subscribed, not yet in the store
	const n = 600
	if _, err := host.nc.Write(candidates("slowjoin", n)); err != nil {
		t.Fatal(err)
	}
	for srv.Stats().Relayed < n {
		time.Sleep(time.Millisecond)
	}
	close(store.release)
	if m := p.expect(protocol.SessionReady); m.PeerID != "slowjoin" {
		t.Fatalf("got %+v", m)
	}
	if got := p.readCandidates(n); !inOrder(got["alice"], n) {
		t.Fatalf("the joiner got %d of %d", len(got["alice"]), n)
	}
}
