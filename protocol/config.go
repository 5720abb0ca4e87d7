package protocol

import (
	"encoding/json"
	"fmt"
	"time"
)

// FrameConfig is the config of a <p2p-frame> (and of a Go peer): the keys
// of the Rails gem p2p_streams_channel plus manualFailover and
// maxMessageSize. Its zero value means the defaults of each field
// (Normalize fills them in). It is signed into the
// peer's token and handed back by the server on join; both peers read it
// the same way (the browser client's reader takes its defaults from
// client/constants.js, generated from this package).
type FrameConfig struct {
	// ICEServers for the peers' RTCPeerConnections; default none (peers on
	// one network, or loopback, need none). The server's own STUN/TURN
	// servers (Options.ICEServers) come before them in SessionReady.
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
	// Heartbeat over the DataChannel; zero fields mean 1s and 4s.
	Heartbeat Heartbeat `json:"heartbeat,omitzero"`
	// KeepCableConnection keeps a client's signaling WebSocket open once it
	// is connected to its host; default false: only hosts stay connected.
	KeepCableConnection bool `json:"keepCableConnection,omitempty"`
	// ManualFailover is the Rails gem's mode: when the host goes, clients report
	// p2pDisconnected and stay down until the page is reloaded. By default
	// (false) they rejoin by themselves and the first one back hosts. The
	// old key "autoFailover": false is read as manualFailover: true.
	ManualFailover bool `json:"manualFailover,omitempty"`
	// MaxMessageSize bounds one Data message's payload (its JSON text, or
	// its bytes), in bytes; default DefaultMaxMessageSize, at most
	// MaxMaxMessageSize. A bigger one is refused at the sender with
	// CodeTooLarge.
	MaxMessageSize int `json:"maxMessageSize,omitempty"`
	// ICETransportPolicy "relay" connects peers through TURN only (no host
	// or STUN candidates: peers never learn each other's addresses);
	// default "all". The ICE servers themselves come in SessionReady.
	ICETransportPolicy string `json:"iceTransportPolicy,omitempty"`
	// ConnectTimeoutMls bounds a link's negotiation, in milliseconds: a
	// link not connected this long after it began fails (CodeICEFailed) and
	// the client tries again with backoff. Default NegotiationTimeout.
	ConnectTimeoutMls int64 `json:"connect_timeout_mls,omitempty"`
	// HealTimeoutMls bounds, in milliseconds, how long a link whose path
	// broke while its DataChannel was open may take to heal over the
	// channel (keeping its connection, no server) before it counts as
	// lost. Default HealTimeout.
	HealTimeoutMls int64 `json:"heal_timeout_mls,omitempty"`
	// MaxBitrate caps, in bits per second, what each sender of a shared
	// stream sends to one viewer (RTCRtpEncodingParameters.maxBitrate), so
	// that a host's uplink is shared predictably: a host with n viewers
	// sends at most n × MaxBitrate per track. Default 0: no cap (congestion
	// control decides). At most MaxMaxBitrate; a share may set its own.
	MaxBitrate int `json:"maxBitrate,omitempty"`
	// ScaleResolutionDownBy divides the width and height of each shared
	// video as sent to one viewer (RTCRtpEncodingParameters
	// .scaleResolutionDownBy): 2 sends a quarter of the pixels. Default 1,
	// in [1, MaxScaleResolutionDownBy]; a share may set its own.
	ScaleResolutionDownBy float64 `json:"scaleResolutionDownBy,omitempty"`
	// ClientsMayShare says whether clients may share streams; default
	// (nil) true. When false only the host shares: a client's share is
	// refused with CodeShareForbidden, and a host ignores a track a
	// client sends anyway (it tells the client, with that code).
	ClientsMayShare *bool `json:"clientsMayShare,omitempty"`
}

// Bounds of FrameConfig's media caps (Validate refuses values outside,
// Normalize clamps them).
const (
	MaxMaxBitrate            = 100_000_000 // bits per second
	MaxScaleResolutionDownBy = 16
)

// Validate reports a config with a media cap out of its bounds: a negative
// or too large MaxBitrate, a ScaleResolutionDownBy below 1 (other than 0,
// the default) or above MaxScaleResolutionDownBy. Normalize would clamp
// them; Validate lets the app that writes the config hear of its mistake.
func (c FrameConfig) Validate() error {
	if c.MaxBitrate < 0 || c.MaxBitrate > MaxMaxBitrate {
		return fmt.Errorf("maxBitrate %d: want 0 (no cap) to %d bits per second", c.MaxBitrate, MaxMaxBitrate)
	}
	if s := c.ScaleResolutionDownBy; s != 0 && !(s >= 1 && s <= MaxScaleResolutionDownBy) {
		return fmt.Errorf("scaleResolutionDownBy %v: want 1 to %d", s, MaxScaleResolutionDownBy)
	}
	return nil
}

// MayShare reports whether clients may share streams (ClientsMayShare,
// default true).
func (c FrameConfig) MayShare() bool { return c.ClientsMayShare == nil || *c.ClientsMayShare }

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// Heartbeat says how often peers send a heartbeat over the DataChannel, and
// how long a silence means the other side is gone. On the wire both are
// milliseconds ("interval_mls", "idle_timeout_mls").
type Heartbeat struct {
	Interval    time.Duration // default DefaultHeartbeatInterval
	IdleTimeout time.Duration // default DefaultHeartbeatIdleTimeout; at least two intervals
}

type heartbeatJSON struct {
	IntervalMls    int64 `json:"interval_mls,omitempty"`
	IdleTimeoutMls int64 `json:"idle_timeout_mls,omitempty"`
}

// MarshalJSON writes the gem's millisecond keys.
func (h Heartbeat) MarshalJSON() ([]byte, error) {
	return json.Marshal(heartbeatJSON{h.Interval.Milliseconds(), h.IdleTimeout.Milliseconds()})
}

// UnmarshalJSON reads the gem's millisecond keys.
func (h *Heartbeat) UnmarshalJSON(b []byte) error {
	var j heartbeatJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	h.Interval = time.Duration(j.IntervalMls) * time.Millisecond
	h.IdleTimeout = time.Duration(j.IdleTimeoutMls) * time.Millisecond
	return nil
}

type plainFrameConfig FrameConfig // FrameConfig without its methods

// UnmarshalJSON reads a config, taking the old "autoFailover": false as
// manualFailover: true.
func (c *FrameConfig) UnmarshalJSON(b []byte) error {
	var j struct {
		plainFrameConfig
		AutoFailover *bool `json:"autoFailover"`
	}
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = FrameConfig(j.plainFrameConfig)
	if j.AutoFailover != nil && !*j.AutoFailover {
		c.ManualFailover = true
	}
	return nil
}

// Normalize returns c with the defaults filled in and the bounds applied,
// as every peer reads it: heartbeat 1 s / 4 s, an idle timeout of at least
// two intervals (less would drop live peers), a maximum message size in
// (0, MaxMaxMessageSize], the media caps in their bounds.
func (c FrameConfig) Normalize() FrameConfig {
	if c.Heartbeat.Interval <= 0 {
		c.Heartbeat.Interval = DefaultHeartbeatInterval
	}
	if c.Heartbeat.IdleTimeout <= 0 {
		c.Heartbeat.IdleTimeout = DefaultHeartbeatIdleTimeout
	}
	c.Heartbeat.IdleTimeout = max(c.Heartbeat.IdleTimeout, 2*c.Heartbeat.Interval)
	if c.MaxMessageSize <= 0 {
		c.MaxMessageSize = DefaultMaxMessageSize
	}
	c.MaxMessageSize = min(c.MaxMessageSize, MaxMaxMessageSize)
	if c.ICETransportPolicy != ICETransportRelay {
		c.ICETransportPolicy = ICETransportAll
	}
	if c.ConnectTimeoutMls <= 0 {
		c.ConnectTimeoutMls = NegotiationTimeout.Milliseconds()
	}
	if c.HealTimeoutMls <= 0 {
		c.HealTimeoutMls = HealTimeout.Milliseconds()
	}
	c.MaxBitrate = min(max(c.MaxBitrate, 0), MaxMaxBitrate)
	if !(c.ScaleResolutionDownBy >= 1) { // NaN too
		c.ScaleResolutionDownBy = 1
	}
	c.ScaleResolutionDownBy = min(c.ScaleResolutionDownBy, MaxScaleResolutionDownBy)
	may := c.MayShare()
	c.ClientsMayShare = &may
	return c
}

// The values of FrameConfig.ICETransportPolicy (RTCIceTransportPolicy).
const (
	ICETransportAll   = "all"
	ICETransportRelay = "relay"
)

// ParseFrameConfig reads a config as it comes in a token or SessionReady
// (absent or null: the defaults), normalized.
func ParseFrameConfig(raw json.RawMessage) (FrameConfig, error) {
	var c FrameConfig
	if len(raw) == 0 || string(raw) == "null" {
		return c.Normalize(), nil
	}
	err := json.Unmarshal(raw, &c)
	return c.Normalize(), err
}
