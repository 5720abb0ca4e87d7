package peer

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
	"github.com/p2pstreams/p2pstreams/token"
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
	// ICEServers for every RTCPeerConnection. Default (nil), as the browser
	// client does: the "iceServers" of the SessionReady that announced the
	// link (the server's STUN/TURN servers with fresh credentials, then the
	// token config's "ice_servers"), or the token config's from an older
	// server; none if there are none. Use an empty non-nil slice for none.
	ICEServers []webrtc.ICEServer
	// ICETransportPolicy webrtc.ICETransportPolicyRelay connects through
	// TURN only (no host or STUN candidates). Default: the token config's
	// "iceTransportPolicy", else all candidates.
	ICETransportPolicy webrtc.ICETransportPolicy

	// Certificate is the DTLS certificate of every RTCPeerConnection of
	// this Peer. Default: one made when the Peer starts (pion would make
	// one per connection). A load generator running many peers may share
	// one (webrtc.GenerateCertificate) to save the key generation.
	Certificate *webrtc.Certificate

	// Heartbeat over the DataChannel. Zero fields default to the token
	// config's "heartbeat" {interval_mls, idle_timeout_mls}, then to
	// 1000 ms and 4000 ms (protocol.DefaultHeartbeat*). As in the browser client, the idle timeout is at
	// least two intervals.
	Heartbeat Heartbeat

	// KeepSignaling keeps a client's signaling WebSocket open after its
	// DataChannel opens. Default false: the client closes it, as the browser
	// client does unless keepCableConnection, and reopens it only to rejoin.
	// The token config's keepCableConnection: true also keeps it. A host
	// always keeps it.
	KeepSignaling bool

	// ManualFailover turns automatic failover off, as the frame config's
	// manualFailover does (either one is enough). By default, a peer whose host goes away
	// rejoins the session with a jittered backoff: the first peer back
	// becomes the host, the others connect to it, and the Peer lives on with
	// its new role. With ManualFailover the Peer ends instead (Done, Err says
	// why); join again with the same token to come back. Either way a peer
	// still joining retries what may pass (server unreachable, unavailable,
	// peer_connected) until Join's context ends.
	ManualFailover bool

	// OnMessage, OnState, OnPeers and OnError are the callbacks; nil ones are not
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
	// OnError gets what went wrong outside any call: a message of this
	// peer's that the host refused (a *protocol.CodeError, such as
	// message_too_large when the host's maximum is lower than this peer's),
	// or ErrMessagesLost (messages a client held while its link healed,
	// and the link was lost instead).
	OnError func(error)
	// OnTrack gets each media track another peer sends to this one, once
	// its first packet arrives: on a client, its host's tracks and the
	// other clients' (forwarded by the host; Track.From is the sharer); on
	// the host, its clients' (which it forwards by itself). Read it
	// (Track.ReadRTP) on a goroutine of your own and return: the callbacks
	// after it wait for it. Track.Done says when it ends.
	OnTrack func(Track)
	// OnKeyframeRequest gets one of this peer's own tracks (AddTrack) when
	// a receiver asks for a keyframe (RTCP PLI or FIR: a viewer that just
	// started, or lost packets), at most every 250 ms per track. pion does
	// not encode: an app that sends encoded video makes its next frame a
	// keyframe. (The host passes requests for the tracks it forwards to
	// their sharer by itself.)
	OnKeyframeRequest func(webrtc.TrackLocal)
	// OnHostChange gets the previous and the current host when another
	// peer hosts the session now (after a failover, or a host that came
	// back to find another in its place).
	OnHostChange func(previous, current protocol.PeerID)

	// HostState opts in to the state hand-off: on the host, it returns the
	// app's state (any value encoding/json takes; nil: none). The host sends
	// it to each client when its channel opens and, while Data messages
	// flow, at most every protocol.HostStateEvery. It runs on the Peer's
	// loop goroutine: it must be quick, and may call Send (which never
	// waits on a host) but no method that waits.
	HostState func() any
	// OnRestoreState gets the host's state to replace the app's with: on a
	// client, the first one from each host it connects to (a newcomer sees
	// the room's state); on a new host, the old host's last one, then
	// OnMessage gets again the Data messages that came after it.
	OnRestoreState func(json.RawMessage)

	// Logger gets debug and warning logs. Default: none.
	Logger *slog.Logger
	// NetDial dials the signaling server's TCP connection. Default: a
	// net.Dialer. Load generators use it to pick source addresses.
	NetDial func(ctx context.Context, network, addr string) (net.Conn, error)
	// NegotiationTimeout bounds a negotiation, from the offer to the
	// DataChannel opening: the host marks the client failed, a client takes
	// its host as lost (ErrICEFailed) and tries again with backoff.
	// Default: the token config's "connect_timeout_mls", then
	// protocol.NegotiationTimeout (15 s), as in the browser client. (A
	// client that gets no offer at all within protocol.OfferTimeout of
	// joining takes its host as lost, as the browser does.)
	NegotiationTimeout time.Duration
	// HealTimeout bounds how long a link whose path broke while its
	// DataChannel was open (ICE disconnected, heartbeat silence) may take
	// to heal, keeping its RTCPeerConnection, before it counts as lost.
	// Default: the token config's "heal_timeout_mls", then 20 s.
	HealTimeout time.Duration
}

// Heartbeat is the DataChannel heartbeat: each side sends a Heartbeat every
// Interval, and takes silence (no message at all) for IdleTimeout as a lost
// link. Zero fields mean the token config's, then the defaults
// (protocol.DefaultHeartbeatInterval, protocol.DefaultHeartbeatIdleTimeout).
type Heartbeat = protocol.Heartbeat

// settings are the effective settings of one membership: Config merged with
// the token config from SessionReady.
type settings struct {
	interval, idle time.Duration
	iceServers     []webrtc.ICEServer
	policy         webrtc.ICETransportPolicy
	keepSignaling  bool
	failover       bool
	maxMessage     int           // bytes of one Data payload
	noShare        bool          // clientsMayShare is false (media.go)
	connect        time.Duration // the negotiation timeout
	heal           time.Duration // the heal timeout
}

func (c *Config) settings(raw json.RawMessage, log *slog.Logger) settings {
	fc, err := protocol.ParseFrameConfig(raw)
	if err != nil {
		log.Warn("p2pstreams: ignoring unreadable token config", "err", err)
		fc, _ = protocol.ParseFrameConfig(nil)
	}
	hb := fc.Heartbeat
	if c.Heartbeat.Interval > 0 {
		hb.Interval = c.Heartbeat.Interval
	}
	if c.Heartbeat.IdleTimeout > 0 {
		hb.IdleTimeout = c.Heartbeat.IdleTimeout
	}
	fc.Heartbeat = hb
	fc = fc.Normalize() // the idle timeout is at least two intervals, whoever set them
	s := settings{
		interval:      fc.Heartbeat.Interval,
		idle:          fc.Heartbeat.IdleTimeout,
		iceServers:    c.ICEServers,
		policy:        c.ICETransportPolicy,
		keepSignaling: c.KeepSignaling || fc.KeepCableConnection,
		failover:      !c.ManualFailover && !fc.ManualFailover,
		maxMessage:    fc.MaxMessageSize,
		noShare:       !fc.MayShare(),
		connect:       c.NegotiationTimeout,
	}
	if s.connect <= 0 {
		s.connect = time.Duration(fc.ConnectTimeoutMls) * time.Millisecond // Normalize gave a default
	}
	if s.heal = c.HealTimeout; s.heal <= 0 {
		s.heal = time.Duration(fc.HealTimeoutMls) * time.Millisecond
	}
	if s.iceServers == nil {
		for _, is := range fc.ICEServers {
			s.iceServers = append(s.iceServers, webrtc.ICEServer{URLs: is.URLs, Username: is.Username, Credential: is.Credential})
		}
	}
	if s.policy == webrtc.ICETransportPolicyAll && fc.ICETransportPolicy == protocol.ICETransportRelay {
		s.policy = webrtc.ICETransportPolicyRelay
	}
	return s
}

// linkICEServers are the ICE servers of a link announced by a SessionReady
// whose "iceServers" is raw: Config.ICEServers if set, else raw's (an
// array), else the token config's.
func (p *Peer) linkICEServers(raw json.RawMessage) []webrtc.ICEServer {
	if p.cfg.ICEServers != nil || len(raw) == 0 {
		return p.set.iceServers
	}
	var servers []webrtc.ICEServer
	if err := json.Unmarshal(raw, &servers); err != nil {
		p.log.Warn("p2pstreams: ignoring unreadable iceServers", "err", err)
		return p.set.iceServers
	}
	return servers
}

// failoverBeforeJoin is the failover setting before the token config is
// known: the Config's, and the token's own if it is readable.
func (c *Config) failoverBeforeJoin() bool {
	if c.ManualFailover {
		return false
	}
	claims, err := token.Peek(c.Token)
	if err != nil {
		return true
	}
	fc, _ := protocol.ParseFrameConfig(claims.Config)
	return !fc.ManualFailover
}

var (
	defaultAPIOnce sync.Once
	defaultAPI     *webrtc.API
)

var (
	relayAPIOnce sync.Once
	relayAPI     *webrtc.API
)

// api is Config.API, else pion's defaults; for a relay-only link, defaults
// that accept a relayed pair at once (pion waits 2 s for a better pair
// first, which a relay-only link never has).
func (c *Config) api(policy webrtc.ICETransportPolicy) *webrtc.API {
	if c.API != nil {
		return c.API
	}
	if policy == webrtc.ICETransportPolicyRelay {
		relayAPIOnce.Do(func() {
			var se webrtc.SettingEngine
			se.SetRelayAcceptanceMinWait(0)
			relayAPI = webrtc.NewAPI(webrtc.WithSettingEngine(se))
		})
		return relayAPI
	}
	defaultAPIOnce.Do(func() { defaultAPI = webrtc.NewAPI() })
	return defaultAPI
}
