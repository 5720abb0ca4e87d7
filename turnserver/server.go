// Package turnserver is an embedded STUN/TURN server (on pion/turn) that an
// app starts beside its p2pstreams.Server, so that peers behind NATs and
// firewalls connect through it when no direct path works:
//
//	ts, err := turnserver.Listen(turnserver.Config{Addr: ":3478", PublicIP: ip, Secret: secret})
//	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: s, ICEServers: ts.ICEServers})
//	defer ts.Close()
//
// It listens on UDP and TCP on one port, answers STUN binding requests
// from anyone, and relays (TURN) only for peers holding a short-lived
// credential from package turncred: every SessionReady carries fresh ones.
//
// Invariants:
//   - a credential is checked on every authenticated request (allocate,
//     refresh, permission, channel bind), and an allocation ends when its
//     credential expires, however it is refreshed;
//   - allocations are bounded per peer (the credential's user) and in total;
//   - relayed traffic runs on pion/turn's own goroutines and sockets, never
//     on the signaling server's: a flood of relayed packets costs CPU and
//     kernel socket buffers (which drop what overflows), not signaling
//     goroutines or queues;
//   - peers may be relayed only to addresses AllowPeer allows (by default
//     no loopback, link-local, multicast or unspecified address other than
//     the relay address itself), so that the relay cannot reach the
//     server's own services.
package turnserver

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/pion/turn/v5"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/turncred"
)

// Config configures Listen. Addr, PublicIP (unless Addr names one IP) and
// Secret are required; every other zero field means the default in its
// comment.
type Config struct {
	// Addr is the UDP and TCP address to listen on, "HOST:PORT"
	// (e.g. ":3478").
	Addr string
	// PublicIP is the address peers reach the server at, advertised as the
	// relay address. Default: Addr's host, if it is one IP (not 0.0.0.0).
	PublicIP net.IP
	// Host is the name or address in the ICE server URLs peers are given.
	// Default: PublicIP.
	Host string
	// RelayPortMin and RelayPortMax bound the relay ports (inclusive);
	// default (both 0): any port the system gives.
	RelayPortMin, RelayPortMax uint16
	// Realm is the TURN realm; default "p2pstreams".
	Realm string
	// Secret is the shared secret of the credentials (turncred); at least
	// 16 bytes. An external TURN server given the same secret accepts the
	// same credentials.
	Secret []byte
	// TTL bounds a credential's lifetime; default turncred.DefaultTTL.
	// A credential never outlives the peer's token either.
	TTL time.Duration
	// MaxAllocationsPerPeer bounds the allocations of one credential user
	// (a session's peer); default 256: a host has one or two (UDP, TCP) per
	// client, and a session has at most 128 members by default.
	MaxAllocationsPerPeer int
	// MaxAllocations bounds all allocations; default 4096.
	MaxAllocations int
	// AllowPeer says whether a peer may be relayed to ip. Default: any
	// address but loopback, link-local, multicast and unspecified ones,
	// except the relay address (PublicIP) itself.
	AllowPeer func(ip net.IP) bool
	// Logger gets the server's logs (pion/turn's, at debug level). Default: none.
	Logger *slog.Logger
}

// Server is a running STUN/TURN server. Close stops it.
type Server struct {
	cfg   Config
	creds *turncred.Provider
	turn  *turn.Server
	udp   net.PacketConn
	tcp   net.Listener
	quota *quota
	port  int

	closeOnce sync.Once
	closeErr  error
}

var (
	// ErrNoPublicIP: Config.PublicIP is needed (Addr listens on all addresses).
	ErrNoPublicIP = errors.New("turnserver: Config.PublicIP is required when Addr is not one IP address")
	// ErrPortRange: RelayPortMin and RelayPortMax are not a range.
	ErrPortRange = errors.New("turnserver: relay port range must have 0 < min <= max")
)

// Listen starts a server on c.Addr.
func Listen(c Config) (*Server, error) {
	creds, err := turncred.NewProvider(turncred.Provider{Secret: c.Secret, TTL: c.TTL})
	if err != nil {
		return nil, err
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("turnserver: Addr: %w", err)
	}
	if c.PublicIP == nil {
		ip := net.ParseIP(host)
		if ip == nil || ip.IsUnspecified() {
			return nil, ErrNoPublicIP
		}
		c.PublicIP = ip
	}
	if c.PublicIP.To4() != nil {
		c.PublicIP = c.PublicIP.To4()
	}
	if (c.RelayPortMin != 0 || c.RelayPortMax != 0) && (c.RelayPortMin == 0 || c.RelayPortMin > c.RelayPortMax) {
		return nil, ErrPortRange
	}
	if c.Realm == "" {
		c.Realm = "p2pstreams"
	}
	if c.MaxAllocationsPerPeer <= 0 {
		c.MaxAllocationsPerPeer = 256
	}
	if c.MaxAllocations <= 0 {
		c.MaxAllocations = 4096
	}
	if c.AllowPeer == nil {
		c.AllowPeer = defaultAllowPeer(c.PublicIP)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: c, creds: creds, quota: newQuota(c.MaxAllocationsPerPeer, c.MaxAllocations)}

	if s.udp, s.tcp, err = listenBoth(host, c.Addr); err != nil {
		return nil, fmt.Errorf("turnserver: %w", err)
	}
	s.port = s.udp.LocalAddr().(*net.UDPAddr).Port
	if c.Host == "" {
		s.cfg.Host = c.PublicIP.String()
	}
	creds.TURN = []string{
		"turn:" + net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.port)) + "?transport=udp",
		"turn:" + net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.port)) + "?transport=tcp",
	}
	creds.STUN = []string{"stun:" + net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.port))}

	relayHost := host
	if relayHost == "" {
		relayHost = "0.0.0.0"
	}
	gen := &relayGenerator{s: s, listenHost: relayHost}
	permit := func(_ net.Addr, ip net.IP) bool { return c.AllowPeer(ip) }
	s.turn, err = turn.NewServer(turn.ServerConfig{
		Realm:             c.Realm,
		AuthHandler:       s.auth,
		QuotaHandler:      func(username, _ string, _ net.Addr) bool { return s.quota.room(username) },
		LoggerFactory:     loggerFactory{c.Logger},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: s.udp, RelayAddressGenerator: gen, PermissionHandler: permit}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: s.tcp, RelayAddressGenerator: gen, PermissionHandler: permit}},
	})
	if err != nil {
		s.udp.Close()
		s.tcp.Close()
		return nil, fmt.Errorf("turnserver: %w", err)
	}
	return s, nil
}

// auth is pion/turn's AuthHandler: the key of a well-formed, unexpired
// username, whose credential the secret makes. The returned user id is the
// whole username, so that the relay generator sees the expiry.
func (s *Server) auth(ra *turn.RequestAttributes) (string, []byte, bool) {
	if err := turncred.Check(s.creds.Secret, ra.Username, "", time.Now()); err != nil {
		s.cfg.Logger.Debug("turn: refused credential", "username", ra.Username, "from", ra.SrcAddr, "err", err)
		return "", nil, false
	}
	pass := turncred.Credential(s.creds.Secret, ra.Username)
	return ra.Username, turn.GenerateAuthKey(ra.Username, ra.Realm, pass), true
}

// ICEServers returns the server's STUN entry and its TURN entry with a
// fresh credential for the peer: the shape of p2pstreams.Options.ICEServers.
func (s *Server) ICEServers(session p2pstreams.SessionID, peer p2pstreams.PeerID, tokenExpires time.Time) []p2pstreams.ICEServer {
	return s.creds.ICEServers(session, peer, tokenExpires)
}

// Port is the UDP and TCP port the server listens on.
func (s *Server) Port() int { return s.port }

// Allocations is the number of live TURN allocations.
func (s *Server) Allocations() int { return s.quota.total() }

// Close stops the server and ends every allocation.
func (s *Server) Close() error {
	s.closeOnce.Do(func() { s.closeErr = s.turn.Close() })
	return s.closeErr
}

func defaultAllowPeer(relay net.IP) func(net.IP) bool {
	return func(ip net.IP) bool {
		if ip.Equal(relay) {
			return true
		}
		return !(ip.IsLoopback() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
			ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified())
	}
}

// listenBoth listens on UDP at addr and on TCP at the same port. For port 0
// the system picks a free UDP port, whose TCP twin may be taken: then it
// tries again with another pick.
func listenBoth(host, addr string) (net.PacketConn, net.Listener, error) {
	for try := 0; ; try++ {
		udp, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		port := udp.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
		if err == nil {
			return udp, tcp, nil
		}
		udp.Close()
		if _, p, _ := net.SplitHostPort(addr); p != "0" || try == 10 {
			return nil, nil, err
		}
	}
}
