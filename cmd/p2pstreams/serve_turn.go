package main

import (
	"errors"
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

func defaultTURNConfig() turnConfig {
	return turnConfig{Realm: "p2pstreams", MaxPerPeer: 256, Max: 4096, TTL: turncred.DefaultTTL}
}

// settings are the TURN settings of `serve` (see config.go).
func (c *turnConfig) settings() []*setting {
	return []*setting{
		{name: "turn-addr", usage: "run the embedded STUN/TURN server on this HOST:PORT, UDP and TCP (e.g. :3478); empty means none", value: stringValue{&c.Addr}},
		{name: "turn-public-ip", usage: "the embedded TURN server's public IP, advertised as its relay address; default the --turn-addr host", value: stringValue{&c.PublicIP}},
		{name: "turn-ports", usage: "relay port range MIN-MAX of the embedded TURN server; empty means any port", value: stringValue{&c.Ports}},
		{name: "turn-realm", usage: "the embedded TURN server's realm", value: stringValue{&c.Realm}},
		{name: "turn-max-per-peer", usage: "TURN allocations one peer may hold on the embedded server", value: intValue{&c.MaxPerPeer, 1}},
		{name: "turn-max", usage: "TURN allocations on the embedded server in all", value: intValue{&c.Max, 1}},
		{name: "turn-url", usage: "external TURN server URLs, comma-separated (turn:host:3478?transport=udp,...), given to peers with credentials from --turn-secret; not with --turn-addr", value: stringValue{&c.URL}},
		{name: "turn-secret", usage: "TURN REST shared secret, at least 16 bytes (coturn: use-auth-secret, static-auth-secret); required with --turn-url, random by default with --turn-addr", value: stringValue{&c.Secret}, redact: redactSecret},
		{name: "turn-ttl", usage: "TURN credential lifetime (never past the peer's token)", value: durationValue{&c.TTL, time.Second}},
	}
}

// startTURN starts what c asks for: it returns the Options.ICEServers of
// the signaling server (nil when TURN is off), a func that stops the
// embedded server, and the embedded server's allocation count (nil
// without one), for the metrics.
func startTURN(c turnConfig, log *slog.Logger) (func(p2pstreams.SessionID, p2pstreams.PeerID, time.Time) []p2pstreams.ICEServer, func(), func() int, error) {
	nothing := func() {}
	switch {
	case c.Addr == "" && c.URL == "":
		return nil, nothing, nil, nil
	case c.Addr != "" && c.URL != "":
		return nil, nil, nil, errors.New("serve: --turn-addr (embedded TURN) and --turn-url (external TURN) exclude each other")
	case c.URL != "":
		if c.Secret == "" {
			return nil, nil, nil, errors.New("serve: --turn-url needs --turn-secret, the external TURN server's shared secret")
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
				return nil, nil, nil, fmt.Errorf("serve: --turn-url %q: not a stun:, turn: or turns: URL", u)
			}
		}
		p, err := turncred.NewProvider(turncred.Provider{STUN: stun, TURN: turn, Secret: []byte(c.Secret), TTL: c.TTL})
		if err != nil {
			return nil, nil, nil, fmt.Errorf("serve: --turn-secret: %w", err)
		}
		return p.ICEServers, nothing, nil, nil
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
			return nil, nil, nil, fmt.Errorf("serve: --turn-public-ip %q is not an IP address", c.PublicIP)
		}
	}
	if c.Ports != "" {
		lo, hi, ok := strings.Cut(c.Ports, "-")
		min, err1 := strconv.ParseUint(lo, 10, 16)
		max, err2 := strconv.ParseUint(hi, 10, 16)
		if !ok || err1 != nil || err2 != nil {
			return nil, nil, nil, fmt.Errorf("serve: --turn-ports %q: want MIN-MAX", c.Ports)
		}
		tc.RelayPortMin, tc.RelayPortMax = uint16(min), uint16(max)
	}
	ts, err := turnserver.Listen(tc)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("serve: --turn-addr: %w", err)
	}
	log.Info("STUN/TURN server listening", "addr", c.Addr, "port", ts.Port(), "relay", tc.PublicIP)
	return ts.ICEServers, func() { ts.Close() }, ts.Allocations, nil
}
