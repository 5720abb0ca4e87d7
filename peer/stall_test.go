package peer_test

import (
	"context"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// stallConn is a TCP connection whose writes can be made to hang, as on a
// socket whose send buffer is full: a stalled Write ends only at its write
// deadline, on Close, or when the stall is released.
type stallConn struct {
	net.Conn
	stall    atomic.Bool
	mu       sync.Mutex
	deadline time.Time
	closed   chan struct{}
	once     sync.Once
}

func (c *stallConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
	return c.Conn.SetWriteDeadline(t)
}

func (c *stallConn) Write(p []byte) (int, error) {
	for c.stall.Load() {
		c.mu.Lock()
		d := c.deadline
		c.mu.Unlock()
		if !d.IsZero() && time.Now().After(d) {
			return 0, os.ErrDeadlineExceeded
		}
		select {
		case <-c.closed:
			return 0, net.ErrClosed
		case <-time.After(5 * time.Millisecond): // a bounded poll of the deadline and the stall
		}
	}
	return c.Conn.Write(p)
}

func (c *stallConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

// A host whose signaling socket stalls (writes hang until their deadline)
// keeps its DataChannel heartbeats going: its clients never take it for
// lost. The writes go through the socket's own writer goroutine, never the
// loop. Once the socket ends, the host joins again and new peers join it.
func TestStalledSignalingKeepsHeartbeats(t *testing.T) {
	e := newEnv(t)
	// The default heartbeat (silence for 4 s is a lost peer), not the
	// tests' fast one: a loaded machine can pause a process for 600 ms.
	beat := peer.Heartbeat{Interval: protocol.DefaultHeartbeatInterval, IdleTimeout: protocol.DefaultHeartbeatIdleTimeout}
	var first atomic.Pointer[stallConn]
	hcfg := e.config("room", "host", &rec{})
	hcfg.Heartbeat = beat
	hcfg.Logger = confLog()
	hcfg.NetDial = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		sc := &stallConn{Conn: c, closed: make(chan struct{})}
		if first.CompareAndSwap(nil, sc) {
			return sc, nil
		}
		return c, nil
	}
	host := e.join(hcfg)
	ar := &rec{}
	acfg := e.config("room", "alice", ar)
	acfg.Heartbeat = beat
	acfg.Logger = confLog()
	alice := e.join(acfg)
	eventually(t, 10*time.Second, "alice sees herself connected", func() bool { return ar.peerMap()["alice"] == peer.StateConnected })

	first.Load().stall.Store(true)
	// carol joins by hand (a raw WebSocket that never rejoins, so that no
	// one races the host back when its socket ends): the host must write
	// its offer to the stalled socket.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nc, _, _, err := ws.Dial(ctx, e.url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	if err := wsutil.WriteClientText(nc, protocol.Encode(&protocol.Message{State: protocol.SessionJoin, Token: e.token("room", "carol", nil)})); err != nil {
		t.Fatal(err)
	}
	// Past the signaling write timeout (10 s) and twice the heartbeat idle
	// timeout (4 s): a loop stuck in the write would have gone silent.
	for end := time.Now().Add(12 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if alice.State() != peer.StateConnected || alice.HostID() != "host" || alice.IsHost() {
			t.Fatalf("alice lost her host while its signaling socket stalled: state %v, host %q; states %v",
				alice.State(), alice.HostID(), ar.stateLog())
		}
	}
	first.Load().stall.Store(false)
	// The stalled socket ended at its write timeout; the host joined again
	// on a new one, and takes new peers.
	dcfg := e.config("room", "dave", &rec{})
	dcfg.Heartbeat = beat
	dave := e.join(dcfg)
	if dave.HostID() != "host" || !host.IsHost() {
		t.Fatalf("dave's host %q, host.IsHost %v", dave.HostID(), host.IsHost())
	}
	if s := ar.stateLog(); containsInOrder(s, peer.StateDisconnected) {
		t.Errorf("alice's states: %v", s)
	}
}
