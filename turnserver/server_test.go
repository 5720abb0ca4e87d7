package turnserver

import (
	"bytes"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pion/turn/v5"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/turncred"
)

var secret = []byte("0123456789abcdef0123")

func start(t *testing.T, c Config) *Server {
	t.Helper()
	if c.Addr == "" {
		c.Addr = "127.0.0.1:0"
	}
	if c.Secret == nil {
		c.Secret = secret
	}
	if c.Logger == nil {
		c.Logger = discard
	}
	s, err := Listen(c)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// client returns a TURN client of s over UDP (or TCP) with the given credentials.
func client(t *testing.T, s *Server, username, password string, overTCP bool) *turn.Client {
	t.Helper()
	addr := "127.0.0.1:" + itoa(s.Port())
	var conn net.PacketConn
	if overTCP {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn = turn.NewSTUNConn(c)
	} else {
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	}
	tc, err := turn.NewClient(&turn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: username, Password: password, Realm: "p2pstreams",
		RTO: 100 * time.Millisecond, LoggerFactory: loggerFactory{discard},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := tc.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tc.Close(); conn.Close() })
	return tc
}

// creds are the TURN entry's credentials that s gives a peer.
func creds(t *testing.T, s *Server, peer p2pstreams.PeerID) (string, string) {
	t.Helper()
	for _, e := range s.ICEServers("lobby", peer, time.Now().Add(time.Hour)) {
		if e.Username != "" {
			return e.Username, e.Credential
		}
	}
	t.Fatal("no TURN entry")
	return "", ""
}

// TestRelay: an allocation made with the credentials the server hands out
// relays datagrams, both ways over UDP, and out over TCP.
func TestRelay(t *testing.T) {
	s := start(t, Config{})
	for _, overTCP := range []bool{false, true} {
		u, p := creds(t, s, "alice")
		tc := client(t, s, u, p, overTCP)
		relay, err := tc.Allocate()
		if err != nil {
			t.Fatalf("tcp=%v: allocate: %v", overTCP, err)
		}
		echo, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := relay.WriteTo([]byte("ping"), echo.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		echo.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, from, err := echo.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "ping" {
			t.Fatalf("tcp=%v: relayed %q, %v", overTCP, buf[:n], err)
		}
		if from.String() != relay.LocalAddr().String() {
			t.Errorf("relayed from %v, relay address %v", from, relay.LocalAddr())
		}
		if overTCP {
			// pion/turn's client reads ChannelData over TCP unreliably
			// (the server's side is the same as over UDP); browsers
			// check the way back over TCP in the namespace tests.
			relay.Close()
			echo.Close()
			continue
		}
		echo.WriteTo([]byte("pong"), from)
		relay.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _, err = relay.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "pong" {
			t.Fatalf("tcp=%v: back %q, %v", overTCP, buf[:n], err)
		}
		relay.Close()
		echo.Close()
	}
}

// TestRefused: tampered, expired, other-secret and malformed credentials
// get no allocation.
func TestRefused(t *testing.T) {
	s := start(t, Config{})
	u, p := creds(t, s, "alice")
	expU, expP := turncred.Make(secret, turncred.User("lobby", "alice"), time.Now().Add(-time.Second))
	otherU, otherP := turncred.Make([]byte("another-secret-0123"), turncred.User("lobby", "alice"), time.Now().Add(time.Hour))
	later := strings.Replace(u, u[:10], itoa(int(time.Now().Add(48*time.Hour).Unix())), 1)
	cases := []struct{ name, user, pass string }{
		{"tampered credential", u, tamper(p)},
		{"tampered username (later expiry)", later, p},
		{"tampered username (other peer)", strings.Replace(u, "alice", "mallory", 1), p},
		{"expired", expU, expP},
		{"other secret", otherU, otherP},
		{"malformed", "alice", turncred.Credential(secret, "alice")},
	}
	for _, tc := range cases {
		c := client(t, s, tc.user, tc.pass, false)
		if relay, err := c.Allocate(); err == nil {
			relay.Close()
			t.Errorf("%s: allocated", tc.name)
		}
	}
	if n := s.Allocations(); n != 0 {
		t.Errorf("%d allocations", n)
	}
}

// tamper changes the first character of a credential (to another one:
// "x" + p[1:] equals p when p starts with "x", 1 time in 64).
func tamper(p string) string {
	if p[0] == 'x' {
		return "y" + p[1:]
	}
	return "x" + p[1:]
}

// TestQuota: allocations are bounded per peer and in total, and freed
// allocations make room again.
func TestQuota(t *testing.T) {
	s := start(t, Config{MaxAllocationsPerPeer: 2, MaxAllocations: 3})
	alloc := func(peer p2pstreams.PeerID) (net.PacketConn, error) {
		u, p := creds(t, s, peer)
		return client(t, s, u, p, false).Allocate()
	}
	a1, err := alloc("alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alloc("alice"); err != nil {
		t.Fatal(err)
	}
	if r, err := alloc("alice"); err == nil {
		r.Close()
		t.Fatal("a third allocation for one peer")
	}
	if _, err := alloc("bob"); err != nil {
		t.Fatal(err)
	}
	if r, err := alloc("carol"); err == nil {
		r.Close()
		t.Fatal("a fourth allocation in all")
	}
	a1.Close() // deallocates (a Refresh with lifetime 0)
	poll(t, func() bool { return s.Allocations() == 2 })
	if _, err := alloc("carol"); err != nil {
		t.Fatalf("after a free: %v", err)
	}
}

// TestAllocationEndsWithCredential: an allocation ends when its
// credential expires, however the client refreshes it.
func TestAllocationEndsWithCredential(t *testing.T) {
	s := start(t, Config{})
	u, p := turncred.Make(secret, turncred.User("lobby", "alice"), time.Now().Add(2*time.Second))
	if _, err := client(t, s, u, p, false).Allocate(); err != nil {
		t.Fatal(err)
	}
	if s.Allocations() != 1 {
		t.Fatalf("%d allocations", s.Allocations())
	}
	poll(t, func() bool { return s.Allocations() == 0 })
}

func TestAllowPeerDefault(t *testing.T) {
	allow := defaultAllowPeer(net.ParseIP("127.0.0.1"))
	for ip, want := range map[string]bool{
		"127.0.0.1": true, "127.0.0.2": false, "10.0.0.1": true, "203.0.113.9": true,
		"169.254.1.1": false, "0.0.0.0": false, "224.0.0.1": false, "::1": false, "fe80::1": false,
	} {
		if got := allow(net.ParseIP(ip)); got != want {
			t.Errorf("%s: %v, want %v", ip, got, want)
		}
	}
}

// TestRelayRefusesLoopback: by default a relay cannot reach the server's
// loopback services (other than the relay address).
func TestRelayRefusesLoopback(t *testing.T) {
	s := start(t, Config{Addr: "127.0.0.1:0", PublicIP: net.ParseIP("127.0.0.5")})
	u, p := creds(t, s, "alice")
	relay, err := client(t, s, u, p, false).Allocate()
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()
	target, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	relay.WriteTo([]byte("x"), target.LocalAddr()) // the permission is refused
	target.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	if n, _, err := target.ReadFrom(make([]byte, 8)); err == nil {
		t.Fatalf("relayed %d bytes to loopback", n)
	}
}

func TestConfigErrors(t *testing.T) {
	for name, c := range map[string]Config{
		"no secret":    {Addr: "127.0.0.1:0"},
		"no public ip": {Addr: ":0", Secret: secret},
		"bad range":    {Addr: "127.0.0.1:0", Secret: secret, RelayPortMin: 5000},
		"bad addr":     {Addr: "nowhere", Secret: secret},
	} {
		if s, err := Listen(c); err == nil {
			s.Close()
			t.Errorf("%s: started", name)
		}
	}
}

func TestICEServersShape(t *testing.T) {
	s := start(t, Config{Host: "turn.test"})
	got := s.ICEServers("lobby", "alice", time.Now().Add(time.Hour))
	if len(got) != 2 || len(got[0].URLs) != 1 || !strings.HasPrefix(got[0].URLs[0], "stun:turn.test:") ||
		len(got[1].URLs) != 2 || !bytes.Contains([]byte(got[1].URLs[1]), []byte("?transport=tcp")) {
		t.Fatalf("%+v", got)
	}
}

func poll(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 10s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
