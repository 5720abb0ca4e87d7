package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/turncred"
	"github.com/p2pstreams/p2pstreams/turnserver"
)

// turnConfig is the STUN/TURN part of `serve`: an embedded server
// (--turn-addr) or an external one (--turn-url), both off by default.
type turnConfig struct {
	Addr       string        // embedded: listen on this UDP+TCP address
	PublicIP   string        // embedded: the relay address peers reach
	Ports      string        // embedded: relay port range "MIN-MAX"
	Realm      string        // embedded
	MaxPerPeer int           // embedded
	Max        int           // embedded
	URL        string        // external: comma-separated turn:/turns:/stun: URLs
	Secret     string        // the shared secret (external: required; embedded: default random)
	TTL        time.Duration // credential lifetime
}

// turnFlags declares the TURN flags of `serve` on fs.
func turnFlags(fs *flag.FlagSet, c *turnConfig) {
	fs.StringVar(&c.Addr, "turn-addr", env("P2PSTREAMS_TURN_ADDR", ""), "run the embedded STUN/TURN server on this HOST:PORT, UDP and TCP (e.g. :3478); empty means none (env P2PSTREAMS_TURN_ADDR)")
	fs.StringVar(&c.PublicIP, "turn-public-ip", env("P2PSTREAMS_TURN_PUBLIC_IP", ""), "the embedded TURN server's public IP, advertised as its relay address; default the --turn-addr host (env P2PSTREAMS_TURN_PUBLIC_IP)")
	fs.StringVar(&c.Ports, "turn-ports", env("P2PSTREAMS_TURN_PORTS", ""), "relay port range MIN-MAX of the embedded TURN server; empty means any port (env P2PSTREAMS_TURN_PORTS)")
	fs.StringVar(&c.Realm, "turn-realm", env("P2PSTREAMS_TURN_REALM", "p2pstreams"), "the embedded TURN server's realm (env P2PSTREAMS_TURN_REALM)")
	fs.IntVar(&c.MaxPerPeer, "turn-max-per-peer", envInt("P2PSTREAMS_TURN_MAX_PER_PEER", 256), "the embedded TURN server's allocations per peer (env P2PSTREAMS_TURN_MAX_PER_PEER)")
	fs.IntVar(&c.Max, "turn-max", envInt("P2PSTREAMS_TURN_MAX", 4096), "the embedded TURN server's allocations in all (env P2PSTREAMS_TURN_MAX)")
	fs.StringVar(&c.URL, "turn-url", env("P2PSTREAMS_TURN_URL", ""), "external TURN server URLs, comma-separated (turn:host:3478?transport=udp,...), given to peers with credentials from --turn-secret; not with --turn-addr (env P2PSTREAMS_TURN_URL)")
	fs.StringVar(&c.Secret, "turn-secret", env("P2PSTREAMS_TURN_SECRET", ""), "TURN REST shared secret, at least 16 bytes (coturn: use-auth-secret, static-auth-secret); required with --turn-url, random by default with --turn-addr (env P2PSTREAMS_TURN_SECRET)")
	fs.DurationVar(&c.TTL, "turn-ttl", envDuration("P2PSTREAMS_TURN_TTL", turncred.DefaultTTL), "TURN credential lifetime (never past the peer's token) (env P2PSTREAMS_TURN_TTL)")
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(env(name, "")); err == nil {
		return v
	}
	return def
}

func envDuration(name string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(env(name, "")); err == nil {
		return v
	}
	return def
}

// startTURN starts what c asks for: it returns the Options.ICEServers of
// the signaling server (nil when TURN is off) and a func that stops the
// embedded server.
func startTURN(c turnConfig, log *slog.Logger) (func(p2pstreams.SessionID, p2pstreams.PeerID, time.Time) []p2pstreams.ICEServer, func(), error) {
	nothing := func() {}
	switch {
	case c.Addr == "" && c.URL == "":
		return nil, nothing, nil
	case c.Addr != "" && c.URL != "":
		return nil, nil, errors.New("serve: --turn-addr (embedded TURN) and --turn-url (external TURN) exclude each other")
	case c.URL != "":
		if c.Secret == "" {
			return nil, nil, errors.New("serve: --turn-url needs --turn-secret, the external TURN server's shared secret")
		}
		var stun, turn []string
		for _, u := range strings.Split(c.URL, ",") {
			u = strings.TrimSpace(u)
			switch {
			case strings.HasPrefix(u, "stun:") || strings.HasPrefix(u, "stuns:"):
				stun = append(stun, u)
			case strings.HasPrefix(u, "turn:") || strings.HasPrefix(u, "turns:"):
				turn = append(turn, u)
			case u != "":
				return nil, nil, fmt.Errorf("serve: --turn-url %q: not a stun:, turn: or turns: URL", u)
			}
		}
		p, err := turncred.NewProvider(turncred.Provider{STUN: stun, TURN: turn, Secret: []byte(c.Secret), TTL: c.TTL})
		if err != nil {
			return nil, nil, fmt.Errorf("serve: --turn-secret: %w", err)
		}
		return p.ICEServers, nothing, nil
	}
	tc := turnserver.Config{
		Addr: c.Addr, Realm: c.Realm, TTL: c.TTL, Logger: log,
		MaxAllocationsPerPeer: c.MaxPerPeer, MaxAllocations: c.Max,
		Secret: []byte(c.Secret),
	}
	if c.Secret == "" {
		tc.Secret = p2pstreams.RandomSecret()
	}
	if c.PublicIP != "" {
		if tc.PublicIP = net.ParseIP(c.PublicIP); tc.PublicIP == nil {
			return nil, nil, fmt.Errorf("serve: --turn-public-ip %q is not an IP address", c.PublicIP)
		}
	}
	if c.Ports != "" {
		lo, hi, ok := strings.Cut(c.Ports, "-")
		min, err1 := strconv.ParseUint(lo, 10, 16)
		max, err2 := strconv.ParseUint(hi, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return nil, nil, fmt.Errorf("serve: --turn-ports %q: want MIN-MAX", c.Ports)
		}
		tc.RelayPortMin, tc.RelayPortMax = uint16(min), uint16(max)
	}
	ts, err := turnserver.Listen(tc)
	if err != nil {
		return nil, nil, fmt.Errorf("serve: --turn-addr: %w", err)
	}
	log.Info("STUN/TURN server listening", "addr", c.Addr, "port", ts.Port(), "relay", tc.PublicIP)
	return ts.ICEServers, func() { ts.Close() }, nil
}
