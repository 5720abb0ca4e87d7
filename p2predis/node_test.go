package p2predis_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
	"github.com/redis/go-redis/v9"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/p2predis"
	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
)

// Helpers for the multi-node tests: server nodes sharing one Redis, in this
// process or as a child process that a test can kill, and a WebSocket peer
// that speaks PROTOCOL.md by hand.

var secret = []byte("multi-node test secret, shared by every node")

// nodeEnv makes the test binary run as a server node instead of the tests:
// its value is the Redis address; nodeLeaseEnv is the lease.
const (
	nodeEnv      = "P2PREDIS_TEST_NODE_REDIS"
	nodeLeaseEnv = "P2PREDIS_TEST_NODE_LEASE"
	// nodeHostEnv ("session/peer") makes the node process also run a Go
	// peer that joins through it: a host that dies with its node.
	nodeHostEnv = "P2PREDIS_TEST_NODE_HOST"
)

func TestMain(m *testing.M) {
	// go-redis logs failed dials to stderr; the tests make them on purpose.
	redis.SetLogger(quietLogger{})
	if addr := os.Getenv(nodeEnv); addr != "" {
		if err := runNode(addr, os.Getenv(nodeLeaseEnv)); err != nil {
			fmt.Fprintln(os.Stderr, "node:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runNode serves until its stdin closes (the test ended) or it is killed.
// It prints the address it listens on as its first line.
func runNode(redisAddr, lease string) error {
	d, err := time.ParseDuration(lease)
	if err != nil {
		return err
	}
	rdb := redis.NewClient(&redis.Options{Addr: redisAddr})
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{
		Secret: secret, Lease: d,
		Store: p2predis.NewStore(rdb, nil), Broker: p2predis.NewBroker(rdb, nil),
	})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go http.Serve(ln, srv)
	if h := os.Getenv(nodeHostEnv); h != "" {
		if err := runHostPeer("ws://"+ln.Addr().String()+"/p2p/", h); err != nil {
			return err
		}
	}
	fmt.Printf("listening %s\n", ln.Addr())
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// node is one server node: its WebSocket URL, and its Server in this
// process or, for a child process, the process.
type node struct {
	url string
	srv *p2pstreams.Server
	cmd *exec.Cmd
}

// startNode runs a node in this process (an httptest server).
func startNode(t *testing.T, rdb redis.UniversalClient, lease time.Duration) *node {
	t.Helper()
	return startNodeWith(t, rdb, p2pstreams.Options{Lease: lease})
}

// startNodeWith runs a node in this process with o, on Redis.
func startNodeWith(t *testing.T, rdb redis.UniversalClient, o p2pstreams.Options) *node {
	t.Helper()
	broker := p2predis.NewBroker(rdb, nil)
	o.Secret, o.Store, o.Broker = secret, p2predis.NewStore(rdb, nil), broker
	srv, err := p2pstreams.NewServer(&o)
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
		broker.Close()
	})
	return &node{url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/", srv: srv}
}

// startNodeProcess runs a node as a child process (this test binary), which
// kill ends without any goodbye.
func startNodeProcess(t *testing.T, redisAddr string, lease time.Duration, env ...string) *node {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), nodeEnv+"="+redisAddr, nodeLeaseEnv+"="+lease.String())
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{cmd: cmd}
	t.Cleanup(func() {
		stdin.Close()
		n.kill()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	addr, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
	if err != nil || !ok {
		t.Fatalf("node process: %q, %v", line, err)
	}
	n.url = "ws://" + addr + "/p2p/"
	return n
}

// kill ends a node process at once (SIGKILL): no Shutdown, no Leave.
func (n *node) kill() {
	if n.cmd != nil && n.cmd.Process != nil {
		n.cmd.Process.Kill()
		n.cmd.Wait()
		n.cmd.Process = nil
	}
}

// peer is a WebSocket client of one node.
type peer struct {
	t    *testing.T
	id   p2pstreams.PeerID
	conn net.Conn
}

func dial(t *testing.T, n *node, id p2pstreams.PeerID) *peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, _, _, err := ws.Dial(ctx, n.url)
	if err != nil {
		t.Fatalf("dial %s: %v", n.url, err)
	}
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, id: id, conn: c}
}

// join dials n, joins s and returns the peer and the host named in its
// SessionReady.
func join(t *testing.T, n *node, s p2pstreams.SessionID, id p2pstreams.PeerID) (*peer, p2pstreams.PeerID) {
	t.Helper()
	p := dial(t, n, id)
	return p, p.join(s)
}

func (p *peer) join(s p2pstreams.SessionID) p2pstreams.PeerID {
	p.t.Helper()
	p.sendJoin(s)
	m := p.expect(protocol.SessionReady)
	if m.PeerID != p.id || m.SessionID != s {
		p.t.Fatalf("%s: SessionReady %+v is not about itself", p.id, m)
	}
	return m.HostPeerID
}

// rejoin joins s again after a HostLeft that came from a lease (a Refresh
// that failed). The server says HostLeft once: any other message first fails.
func (p *peer) rejoin(s p2pstreams.SessionID) p2pstreams.PeerID {
	p.t.Helper()
	p.sendJoin(s)
	m, err := p.read(10 * time.Second)
	if err != nil {
		p.t.Fatalf("%s: waiting for SessionReady: %v", p.id, err)
	}
	if m.State != protocol.SessionReady || m.PeerID != p.id {
		p.t.Fatalf("%s: got %s %+v, want its SessionReady", p.id, m.State, m)
	}
	return m.HostPeerID
}

func (p *peer) sendJoin(s p2pstreams.SessionID) {
	p.t.Helper()
	tok, err := token.Issue(secret, token.Claims{Session: s, Peer: p.id, Expires: time.Now().Add(time.Hour).Unix()})
	if err != nil {
		p.t.Fatal(err)
	}
	p.send(protocol.Message{State: protocol.SessionJoin, Token: tok})
}

func (p *peer) send(m protocol.Message) {
	p.t.Helper()
	m.Type = protocol.Type
	b, err := json.Marshal(m)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := wsutil.WriteClientText(p.conn, b); err != nil {
		p.t.Fatalf("%s: write: %v", p.id, err)
	}
}

// route sends a routed message to another peer.
func (p *peer) route(state protocol.State, to p2pstreams.PeerID, data string) {
	p.t.Helper()
	p.send(protocol.Message{State: state, To: to, Data: json.RawMessage(data)})
}

// read returns the next message within d, or an error (a timeout too).
func (p *peer) read(d time.Duration) (protocol.Message, error) {
	p.conn.SetReadDeadline(time.Now().Add(d))
	b, err := wsutil.ReadServerText(p.conn)
	if err != nil {
		return protocol.Message{}, err
	}
	var m protocol.Message
	if err := json.Unmarshal(b, &m); err != nil {
		p.t.Fatalf("%s: invalid JSON %q: %v", p.id, b, err)
	}
	return m, nil
}

func (p *peer) expect(state protocol.State) protocol.Message {
	p.t.Helper()
	m, err := p.read(10 * time.Second)
	if err != nil {
		p.t.Fatalf("%s: waiting for %s: %v", p.id, state, err)
	}
	if m.State != state {
		p.t.Fatalf("%s: got %s %+v, want %s", p.id, m.State, m, state)
	}
	return m
}

func (p *peer) expectError(code protocol.Code) {
	p.t.Helper()
	if m := p.expect(protocol.Error); m.Code != code {
		p.t.Fatalf("%s: error %s (%s), want %s", p.id, m.Code, m.Text, code)
	}
}

// expectRouted reads a routed message and checks its state, sender and data.
func (p *peer) expectRouted(state protocol.State, from p2pstreams.PeerID, data string) {
	p.t.Helper()
	m := p.expect(state)
	if m.From != from || m.To != p.id || string(m.Data) != data {
		p.t.Fatalf("%s: got %s from %q to %q data %s; want from %q data %s", p.id, state, m.From, m.To, m.Data, from, data)
	}
}

// quiet checks that nothing arrives within d.
func (p *peer) quiet(d time.Duration) {
	p.t.Helper()
	m, err := p.read(d)
	var ne net.Error
	if err == nil {
		p.t.Fatalf("%s: got %s %+v, want nothing", p.id, m.State, m)
	}
	if !errors.As(err, &ne) || !ne.Timeout() {
		p.t.Fatalf("%s: read: %v", p.id, err)
	}
}

type quietLogger struct{}

func (quietLogger) Printf(context.Context, string, ...any) {}
