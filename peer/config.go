package peer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"log/slog"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Config configures Join. Only URL and Token are required; every other
// field's zero value means the default given in its comment.
type Config struct {
	// URL is the signaling WebSocket endpoint, e.g. "ws://127.0.0.1:8080/p2p/"
	// (wss:// for TLS; http:// and https:// are taken as ws:// and wss://).
	URL string
	// Token is the peer's signed token (Server.Token). It names the session
	// and the peer; it travels in SessionJoin, never in the URL.
	Token string

	// API creates the RTCPeerConnections. Put a webrtc.SettingEngine in it to
	// choose interfaces, network types, ports or mDNS. Default: one shared
	// webrtc.NewAPI() with pion's default settings. peertest.LoopbackAPI
	// returns one for loopback-only tests.
	API *webrtc.API
	// ICEServers for every RTCPeerConnection. Default (nil): the token
	// config's "ice_servers", as the browser client does; none if it has none.
	// Use an empty non-nil slice to ignore the token's.
	ICEServers []webrtc.ICEServer

	// Certificate is the DTLS certificate of every RTCPeerConnection of
	// this Peer. Default: one made when the Peer starts (pion would make
	// one per connection). A load generator running many peers may share
	// one (webrtc.GenerateCertificate) to save the key generation.
	Certificate *webrtc.Certificate

	// Heartbeat over the DataChannel. Zero fields default to the token
	// config's "heartbeat" {interval_mls, idle_timeout_mls}, then to
	// 1000 ms and 4000 ms. As in the browser client, the idle timeout is at
	// least two intervals.
	Heartbeat Heartbeat

	// KeepSignaling keeps a client's signaling WebSocket open after its
	// DataChannel opens. Default false: the client closes it, as the browser
	// client does unless keepCableConnection, and reopens it only to rejoin.
	// The token config's keepCableConnection: true also keeps it. A host
	// always keeps it.
	KeepSignaling bool

	// NoFailover turns automatic failover off. By default (false, unless the
	// token config says "autoFailover": false), a peer whose host goes away
	// rejoins the session with a jittered backoff: the first peer back
	// becomes the host, the others connect to it, and the Peer lives on with
	// its new role. With NoFailover the Peer ends instead (Done, Err says
	// why); join again with the same token to come back. Either way a peer
	// still joining retries what may pass (server unreachable, unavailable,
	// peer_connected) until Join's context ends.
	NoFailover bool

	// OnMessage, OnState and OnPeers are the callbacks; nil ones are not
	// called. The contract: they are called one at a time, in order, from
	// one goroutine of the Peer, never while the Peer holds a lock, so they
	// may call any Peer method (Send, Close, ...). They never block the
	// Peer: events wait in a queue for the callback to return. A slow
	// callback delays only later callbacks of this Peer (and the queue grows
	// meanwhile), never the relay to other peers or the heartbeat.
	//
	// OnMessage gets every Data message, the peer's own included.
	OnMessage func(Message)
	// OnState gets the peer's own state on each change (see State).
	OnState func(State)
	// OnPeers gets the host's map of every peer's state (the host itself
	// included) on each change: the host's own map on the host, the last
	// Data.Connection.State on a client. The map is the callee's to keep.
	OnPeers func(map[protocol.PeerID]State)
	// OnError gets what goes wrong after Join without ending the Peer:
	// so far, ErrMessagesLost (messages a client held while its link
	// healed, and the link was lost instead).
	OnError func(error)

	// Logger gets debug and warning logs. Default: none.
	Logger *slog.Logger
	// NetDial dials the signaling server's TCP connection. Default: a
	// net.Dialer. Load generators use it to pick source addresses.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// NegotiationTimeout bounds a negotiation, from the offer to the
	// DataChannel opening: the host marks the client failed, a client takes
	// its host as lost. Default 30 s. (A client that gets no offer at all
	// within 10 s of joining takes its host as lost, as the browser does.)
	NegotiationTimeout time.Duration
	// HealTimeout bounds how long a link whose path broke while its
	// DataChannel was open (ICE disconnected, heartbeat silence) may take
	// to heal, keeping its RTCPeerConnection, before it counts as lost.
	// Default: the token config's "heal_timeout_mls", then 20 s.
	HealTimeout time.Duration
}

// Heartbeat is the DataChannel heartbeat: each side sends a Heartbeat every
// Interval, and takes silence (no message at all) for IdleTimeout as a lost
// link.
type Heartbeat struct {
	Interval    time.Duration // default 1 s
	IdleTimeout time.Duration // default 4 s
}

// The defaults, shared with the browser client.
const (
	DefaultHeartbeatInterval    = 1000 * time.Millisecond
	DefaultHeartbeatIdleTimeout = 4000 * time.Millisecond
	defaultNegotiationTimeout   = 30 * time.Second
	DefaultHealTimeout          = 20 * time.Second
)

// frameConfig is the part of the token's frame config a Go peer reads
// (the same object the browser's <p2p-frame> gets).
type frameConfig struct {
	Heartbeat *struct {
		IntervalMls    int64 `json:"interval_mls"`
		IdleTimeoutMls int64 `json:"idle_timeout_mls"`
	} `json:"heartbeat"`
	ICEServers          []webrtc.ICEServer `json:"ice_servers"`
	HealTimeoutMls      int64              `json:"heal_timeout_mls"`
	KeepCableConnection bool               `json:"keepCableConnection"`
	AutoFailover        *bool              `json:"autoFailover"`
}

// settings are the effective settings of one membership: Config merged with
// the token config from SessionReady.
type settings struct {
	interval, idle time.Duration
	heal           time.Duration
	iceServers     []webrtc.ICEServer
	keepSignaling  bool
	failover       bool
}

func (c *Config) settings(raw json.RawMessage, log *slog.Logger) settings {
	var fc frameConfig
	if len(raw) > 0 && string(raw) != "null" {
		if err := json.Unmarshal(raw, &fc); err != nil {
			log.Warn("p2pstreams: ignoring unreadable token config", "err", err)
			fc = frameConfig{}
		}
	}
	s := settings{
		interval:      c.Heartbeat.Interval,
		idle:          c.Heartbeat.IdleTimeout,
		heal:          c.HealTimeout,
		iceServers:    c.ICEServers,
		keepSignaling: c.KeepSignaling || fc.KeepCableConnection,
		failover:      !c.NoFailover && (fc.AutoFailover == nil || *fc.AutoFailover),
	}
	if h := fc.Heartbeat; h != nil {
		if s.interval <= 0 && h.IntervalMls > 0 {
			s.interval = time.Duration(h.IntervalMls) * time.Millisecond
		}
		if s.idle <= 0 && h.IdleTimeoutMls > 0 {
			s.idle = time.Duration(h.IdleTimeoutMls) * time.Millisecond
		}
	}
	if s.heal <= 0 && fc.HealTimeoutMls > 0 {
		s.heal = time.Duration(fc.HealTimeoutMls) * time.Millisecond
	}
	if s.heal <= 0 {
		s.heal = DefaultHealTimeout
	}
	if s.interval <= 0 {
		s.interval = DefaultHeartbeatInterval
	}
	if s.idle <= 0 {
		s.idle = DefaultHeartbeatIdleTimeout
	}
	// As in the browser client: an idle timeout below two intervals would
	// drop live peers.
	s.idle = max(s.idle, 2*s.interval)
	if s.iceServers == nil {
		s.iceServers = fc.ICEServers
	}
	return s
}

// failoverBeforeJoin is the failover setting before the token config is
// known: the Config's, and the token's own if it is readable.
func (c *Config) failoverBeforeJoin() bool {
	if c.NoFailover {
		return false
	}
	_, _, cfg := readToken(c.Token)
	var fc frameConfig
	if len(cfg) > 0 && json.Unmarshal(cfg, &fc) == nil && fc.AutoFailover != nil {
		return *fc.AutoFailover
	}
	return true
}

// readToken reads the session and peer ids and the config from a token's
// claims, which are readable by their holder (the signature is the
// server's business). It returns zero values for a malformed token; the
// server then refuses it with bad_token.
func readToken(tok string) (protocol.SessionID, protocol.PeerID, json.RawMessage) {
	payload, _, ok := strings.Cut(tok, ".")
	if !ok {
		return "", "", nil
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return "", "", nil
	}
	var c struct {
		S protocol.SessionID `json:"s"`
		P protocol.PeerID    `json:"p"`
		C json.RawMessage    `json:"c"`
	}
	if json.Unmarshal(b, &c) != nil {
		return "", "", nil
	}
	return c.S, c.P, c.C
}

var (
	defaultAPIOnce sync.Once
	defaultAPI     *webrtc.API
)

func (c *Config) api() *webrtc.API {
	if c.API != nil {
		return c.API
	}
	defaultAPIOnce.Do(func() { defaultAPI = webrtc.NewAPI() })
	return defaultAPI
}
