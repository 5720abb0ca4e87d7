package peer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// Clients close their signaling WebSocket once connected, unless told to
// keep it (Config.KeepSignaling or the token's keepCableConnection); the
// host keeps its own.
func TestClientsDropSignaling(t *testing.T) {
	e := newEnv(t)
	e.join(e.config("room", "host", &rec{}))
	e.join(e.config("room", "alice", &rec{}))
	bcfg := e.config("room", "bob", &rec{})
	bcfg.KeepSignaling = true
	e.join(bcfg)
	ccfg := e.config("room", "carol", &rec{})
	ccfg.Token = e.token("room", "carol", map[string]any{"keepCableConnection": true})
	e.join(ccfg)
	e.join(e.config("room", "dave", &rec{}))
	eventually(t, 10*time.Second, "3 signaling connections open (host, bob, carol)", func() bool {
		return e.srv.Stats().Connections == 3
	})
	time.Sleep(100 * time.Millisecond) // and no more close
	if n := e.srv.Stats().Connections; n != 3 {
		t.Fatalf("%d signaling connections, want 3", n)
	}
}

// A host whose token (and so membership) expires is closed by the server
// with session_expired, and ends with that error: retrying cannot help.
func TestSessionExpires(t *testing.T) {
	e := newEnv(t)
	tok, err := e.srv.Token("room", "host", 1500*time.Millisecond, nil)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.config("room", "host", &rec{})
	cfg.Token = tok
	host := e.join(cfg)
	select {
	case <-host.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the host did not end when its session expired")
	}
	if protocol.CodeOf(host.Err()) != protocol.CodeSessionExpired || host.State() != peer.StateFailed {
		t.Fatalf("Err() = %v, State() = %v; want session_expired, failed", host.Err(), host.State())
	}
	if err := host.Send(context.Background(), "x"); !errors.Is(err, peer.ErrClosed) {
		t.Errorf("Send after the end: %v", err)
	}
}

// Peers may share one DTLS certificate (a load generator's saving).
func TestSharedCertificate(t *testing.T) {
	e := newEnv(t)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := webrtc.GenerateCertificate(key)
	if err != nil {
		t.Fatal(err)
	}
	hcfg, ar := e.config("room", "host", &rec{}), &rec{}
	hcfg.Certificate = cert
	e.join(hcfg)
	acfg := e.config("room", "alice", ar)
	acfg.Certificate = cert
	alice := e.join(acfg)
	if err := alice.Send(context.Background(), "same cert"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "alice gets her message back", func() bool { return len(ar.messages()) == 1 })
}

// A second peer with an id that is connected already is refused with
// peer_connected, which Join retries (the first one may be going away)
// until its context ends.
func TestPeerConnected(t *testing.T) {
	e := newEnv(t)
	e.join(e.config("room", "host", &rec{}))
	cfg := e.config("room", "host", &rec{})
	ctx, cancel := context.WithTimeout(context.Background(), 800*time.Millisecond)
	defer cancel()
	_, err := peer.Join(ctx, cfg)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "peer_connected") {
		t.Fatalf("Join as a connected peer: %v", err)
	}
}
