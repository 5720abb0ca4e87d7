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

// FrameConfig is the config of a <p2p-frame>, defined in package protocol
// (the one source both peers read it from); see protocol.FrameConfig.
type FrameConfig = protocol.FrameConfig

// ICEServer is one entry of RTCConfiguration.iceServers.
type ICEServer = protocol.ICEServer

// Heartbeat is the DataChannel heartbeat of a FrameConfig.
type Heartbeat = protocol.Heartbeat

// FrameOptions say what FrameTag renders: the Go form of
// p2p_frame_tag(session_id:, peer_id:, expires_in:, config:) of the Rails
// gem p2p_streams_channel.
type FrameOptions struct {
	Session SessionID // required
	Peer    PeerID    // required; the server trusts it because it is signed
	// ExpiresIn is how long the token, and so the peer's membership, lasts;
	// default DefaultFrameExpiry.
	ExpiresIn time.Duration
	// Config is the frame config; nil means the defaults.
	Config *FrameConfig
	// URL is the signaling endpoint (ws:, wss:, http:, https:, or a path
	// starting with "/"); empty means the client's default, "/p2p/" on the
	// page's origin (setDefaultURL in the client changes it): set it when
	// the Server is mounted elsewhere.
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
	if err := cfg.Validate(); err != nil {
		return "", fmt.Errorf("p2pstreams: frame config: %w", err)
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
