package p2pstreams

import (
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net/url"
	"strings"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// FrameConfig is the config of a <p2p-frame>: the seed's keys, plus
// automatic failover. Its zero value means the defaults of each field. It is
// signed into the peer's token and handed back by the server on join.
type FrameConfig struct {
	// ICEServers for the peers' RTCPeerConnections; default none (peers on
	// one network, or loopback, need none).
	ICEServers []ICEServer `json:"ice_servers,omitempty"`
	// Heartbeat over the DataChannel; zero fields mean 1s and 4s.
	Heartbeat Heartbeat `json:"heartbeat,omitzero"`
	// KeepCableConnection keeps a client's signaling WebSocket open once it
	// is connected to its host; default false: only hosts stay connected.
	KeepCableConnection bool `json:"keepCableConnection,omitempty"`
	// ManualFailover is the seed's mode: when the host goes, clients report
	// p2pDisconnected and stay down until the page is reloaded. By default
	// (false) they rejoin by themselves and the first one back hosts. On
	// the wire it is "autoFailover": false.
	ManualFailover bool `json:"-"`
	// HealTimeout bounds how long a link whose path broke while its
	// DataChannel was open may take to heal (keeping its connection, over
	// the channel) before it counts as lost; default 20s. On the wire it
	// is "heal_timeout_mls".
	HealTimeout time.Duration `json:"-"`
}

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
	Interval    time.Duration // default 1s
	IdleTimeout time.Duration // default 4s; at least two intervals
}

type heartbeatJSON struct {
	IntervalMls    int64 `json:"interval_mls,omitempty"`
	IdleTimeoutMls int64 `json:"idle_timeout_mls,omitempty"`
}

// MarshalJSON writes the seed's millisecond keys.
func (h Heartbeat) MarshalJSON() ([]byte, error) {
	return json.Marshal(heartbeatJSON{h.Interval.Milliseconds(), h.IdleTimeout.Milliseconds()})
}

// UnmarshalJSON reads the seed's millisecond keys.
func (h *Heartbeat) UnmarshalJSON(b []byte) error {
	var j heartbeatJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	h.Interval = time.Duration(j.IntervalMls) * time.Millisecond
	h.IdleTimeout = time.Duration(j.IdleTimeoutMls) * time.Millisecond
	return nil
}

type frameConfigJSON struct {
	plainFrameConfig
	AutoFailover   *bool `json:"autoFailover,omitempty"`
	HealTimeoutMls int64 `json:"heal_timeout_mls,omitempty"`
}

type plainFrameConfig FrameConfig // FrameConfig without its methods

// MarshalJSON writes the config as the browser client reads it.
func (c FrameConfig) MarshalJSON() ([]byte, error) {
	j := frameConfigJSON{plainFrameConfig: plainFrameConfig(c), HealTimeoutMls: c.HealTimeout.Milliseconds()}
	if c.ManualFailover {
		j.AutoFailover = new(bool)
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads a config as the browser client writes it.
func (c *FrameConfig) UnmarshalJSON(b []byte) error {
	var j frameConfigJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*c = FrameConfig(j.plainFrameConfig)
	c.ManualFailover = j.AutoFailover != nil && !*j.AutoFailover
	c.HealTimeout = time.Duration(j.HealTimeoutMls) * time.Millisecond
	return nil
}

// FrameOptions say what FrameTag renders: the Go form of the seed's
// p2p_frame_tag(session_id:, peer_id:, expires_in:, config:).
type FrameOptions struct {
	Session SessionID // required
	Peer    PeerID    // required; the server trusts it because it is signed
	// ExpiresIn is how long the token, and so the peer's membership, lasts;
	// default DefaultFrameExpiry.
	ExpiresIn time.Duration
	// Config is the frame config; nil means the defaults.
	Config *FrameConfig
	// URL is the signaling endpoint (ws:, wss:, http:, https:, or a path
	// starting with "/"); empty means the directory p2pstreams.js was loaded
	// from, which is right when the script comes from this Server.
	URL string
	// Content is markup placed inside the element (FrameTag only), for
	// example the element of the controller that uses the frame.
	Content template.HTML
}

// DefaultFrameExpiry is the token lifetime when FrameOptions.ExpiresIn is zero.
const DefaultFrameExpiry = 24 * time.Hour

// ErrFrameURL is returned for a FrameOptions.URL that is not a signaling URL.
var ErrFrameURL = errors.New("p2pstreams: frame URL must be ws:, wss:, http:, https: or a path starting with /")

// FrameTag renders <p2p-frame token="…" config="…">Content</p2p-frame> with
// a fresh signed token for o.Session and o.Peer. Every attribute value is
// escaped; only o.Content, which is template.HTML, is taken as it is.
func (s *Server) FrameTag(o FrameOptions) (template.HTML, error) {
	open, err := s.FrameStart(o)
	if err != nil {
		return "", err
	}
	return open + o.Content + FrameEnd(), nil
}

// FrameStart renders only the opening tag of FrameTag, for templates that
// write the frame's content themselves and close it with FrameEnd.
func (s *Server) FrameStart(o FrameOptions) (template.HTML, error) {
	if err := protocol.CheckID(string(o.Session)); err != nil {
		return "", fmt.Errorf("p2pstreams: frame session id: %w", err)
	}
	if err := protocol.CheckID(string(o.Peer)); err != nil {
		return "", fmt.Errorf("p2pstreams: frame peer id: %w", err)
	}
	if o.URL != "" && !frameURLOK(o.URL) {
		return "", ErrFrameURL
	}
	cfg := FrameConfig{}
	if o.Config != nil {
		cfg = *o.Config
	}
	cfgJSON, err := json.Marshal(cfg)
	if err != nil {
		return "", fmt.Errorf("p2pstreams: frame config: %w", err)
	}
	ttl := o.ExpiresIn
	if ttl <= 0 {
		ttl = DefaultFrameExpiry
	}
	tok, err := s.Token(o.Session, o.Peer, ttl, json.RawMessage(cfgJSON))
	if err != nil {
		return "", err
	}
	var b strings.Builder
	b.WriteString(`<p2p-frame token="`)
	b.WriteString(html.EscapeString(tok))
	b.WriteString(`" config="`)
	b.WriteString(html.EscapeString(string(cfgJSON)))
	b.WriteString(`"`)
	if o.URL != "" {
		b.WriteString(` url="`)
		b.WriteString(html.EscapeString(o.URL))
		b.WriteString(`"`)
	}
	b.WriteString(`>`)
	return template.HTML(b.String()), nil
}

// FrameEnd is the closing tag of FrameStart.
func FrameEnd() template.HTML { return "</p2p-frame>" }

func frameURLOK(s string) bool {
	if strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") {
		return true
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return false
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
		return true
	}
	return false
}

// TemplateFuncs returns the template helpers of s for html/template:
//
//	p2pFrameTag OPTIONS     the whole element (FrameTag)
//	p2pFrameStart OPTIONS   its opening tag (FrameStart)
//	p2pFrameEnd             its closing tag
//
// where OPTIONS is a FrameOptions value, for example from the template data:
//
//	{{p2pFrameStart .Frame}}<div id="chat">…</div>{{p2pFrameEnd}}
func (s *Server) TemplateFuncs() template.FuncMap {
	return template.FuncMap{
		"p2pFrameTag":   s.FrameTag,
		"p2pFrameStart": s.FrameStart,
		"p2pFrameEnd":   FrameEnd,
	}
}
