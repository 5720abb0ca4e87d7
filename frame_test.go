package p2pstreams_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"html/template"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/token"
)

var frameSecret = []byte("frame-test-secret-0123456789")

func frameServer(t *testing.T) *p2pstreams.Server {
	t.Helper()
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: frameSecret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(t.Context()) })
	return srv
}

// frameElements parses markup as a browser would and returns every element.
func frameElements(t *testing.T, markup string) []*html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader("<!doctype html><body>" + markup))
	if err != nil {
		t.Fatal(err)
	}
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

// hostile ids and config values: each would break out of an attribute or
// into a script if it were not escaped.
const hostile = `"><script>alert(1)</script><p2p-frame x='` + "&amp;" + `</p2p-frame>`

func TestFrameTagEscapesHostileInput(t *testing.T) {
	srv := frameServer(t)
	cfg := &p2pstreams.FrameConfig{
		ICEServers:          []p2pstreams.ICEServer{{URLs: []string{"turn:127.0.0.1:3478?" + hostile}, Username: hostile, Credential: `'"</script>`}},
		Heartbeat:           p2pstreams.Heartbeat{Interval: 250 * time.Millisecond, IdleTimeout: time.Second},
		KeepCableConnection: true,
		ManualFailover:      true,
	}
	session, peer := p2pstreams.SessionID("room "+hostile[:30]), p2pstreams.PeerID(hostile[:40])
	out, err := srv.FrameTag(p2pstreams.FrameOptions{Session: session, Peer: peer, Config: cfg, ExpiresIn: time.Minute, URL: "/p2p/?" + hostile})
	if err != nil {
		t.Fatal(err)
	}
	els := frameElements(t, string(out))
	var frames []*html.Node
	for _, n := range els {
		switch n.Data {
		case "script":
			t.Fatalf("a <script> element escaped into the page: %s", out)
		case "p2p-frame":
			frames = append(frames, n)
		}
	}
	if len(frames) != 1 {
		t.Fatalf("want one p2p-frame element, got %d in %s", len(frames), out)
	}
	f := frames[0]
	if len(f.Attr) != 3 || f.FirstChild != nil {
		t.Fatalf("want exactly token, config and url attributes and no children, got %+v in %s", f.Attr, out)
	}
	tok, _ := attr(f, "token")
	claims, err := token.Verify(frameSecret, tok, time.Now())
	if err != nil {
		t.Fatalf("token attribute does not verify: %v", err)
	}
	if claims.Session != session || claims.Peer != peer {
		t.Errorf("token binds %q/%q, want %q/%q", claims.Session, claims.Peer, session, peer)
	}
	if d := time.Until(claims.ExpiresAt()); d < 50*time.Second || d > 61*time.Second {
		t.Errorf("token expires in %v, want about a minute", d)
	}
	raw, _ := attr(f, "config")
	var got p2pstreams.FrameConfig
	if err := json.Unmarshal([]byte(raw), &got); err != nil {
		t.Fatalf("config attribute is not JSON: %v: %q", err, raw)
	}
	if got.ICEServers[0].Username != hostile || got.ICEServers[0].Credential != cfg.ICEServers[0].Credential ||
		got.Heartbeat != cfg.Heartbeat || !got.KeepCableConnection || !got.ManualFailover {
		t.Errorf("config round trip: got %+v, want %+v", got, *cfg)
	}
	if !bytes.Equal(claims.Config, []byte(raw)) {
		t.Errorf("token config %s differs from the attribute %s", claims.Config, raw)
	}
	if u, _ := attr(f, "url"); u != "/p2p/?"+hostile {
		t.Errorf("url attribute = %q", u)
	}
}

func TestFrameTagRefusesBadInput(t *testing.T) {
	srv := frameServer(t)
	for name, o := range map[string]p2pstreams.FrameOptions{
		"no session":       {Peer: "bob"},
		"no peer":          {Session: "lobby"},
		"control char":     {Session: "lobby", Peer: "bo\x00b"},
		"long id":          {Session: p2pstreams.SessionID(strings.Repeat("x", 65)), Peer: "bob"},
		"javascript url":   {Session: "lobby", Peer: "bob", URL: "javascript:alert(1)"},
		"scheme-relative":  {Session: "lobby", Peer: "bob", URL: "//evil.example/p2p/"},
		"negative bitrate": {Session: "lobby", Peer: "bob", Config: &p2pstreams.FrameConfig{MaxBitrate: -1}},
		"upscale":          {Session: "lobby", Peer: "bob", Config: &p2pstreams.FrameConfig{ScaleResolutionDownBy: 0.5}},
	} {
		if out, err := srv.FrameTag(o); err == nil {
			t.Errorf("%s: rendered %s, want an error", name, out)
		}
	}
	if _, err := srv.FrameTag(p2pstreams.FrameOptions{Session: "lobby", Peer: "bob", URL: "data:x"}); !errors.Is(err, p2pstreams.ErrFrameURL) {
		t.Errorf("data: URL gave %v, want ErrFrameURL", err)
	}
	if _, err := srv.Token("lobby", "bob", time.Minute, p2pstreams.FrameConfig{MaxBitrate: 1 << 40}); err == nil {
		t.Error("Token took a FrameConfig with maxBitrate over MaxMaxBitrate")
	}
	if _, err := srv.Token("lobby", "bob", time.Minute, &p2pstreams.FrameConfig{MaxBitrate: 300_000, ScaleResolutionDownBy: 2}); err != nil {
		t.Errorf("Token refused a valid config: %v", err)
	}
	for _, u := range []string{"ws://127.0.0.1:8080/p2p/", "wss://example.com/p2p/", "https://example.com/p2p/", "/p2p/"} {
		if _, err := srv.FrameTag(p2pstreams.FrameOptions{Session: "lobby", Peer: "bob", URL: u}); err != nil {
			t.Errorf("URL %q refused: %v", u, err)
		}
	}
}

func TestTemplateFuncs(t *testing.T) {
	srv := frameServer(t)
	tmpl := template.Must(template.New("room").Funcs(srv.TemplateFuncs()).Parse(
		`<h1>{{.Title}}</h1>{{p2pFrameStart .Frame}}<div id="chat" data-room="{{.Title}}">{{.Title}}</div>{{p2pFrameEnd}}` +
			`{{p2pFrameTag .Other}}`))
	var b strings.Builder
	err := tmpl.Execute(&b, map[string]any{
		"Title": hostile,
		"Frame": p2pstreams.FrameOptions{Session: "lobby", Peer: p2pstreams.PeerID(hostile[:40])},
		"Other": p2pstreams.FrameOptions{Session: "other", Peer: "bob", Content: template.HTML(`<span id="inner"></span>`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	var frames, chats, inner int
	for _, n := range frameElements(t, b.String()) {
		switch {
		case n.Data == "script":
			t.Fatalf("a <script> element escaped into the page: %s", b.String())
		case n.Data == "p2p-frame":
			frames++
		case n.Data == "div" && n.Parent != nil && n.Parent.Data == "p2p-frame":
			chats++
			if v, _ := attr(n, "data-room"); v != hostile {
				t.Errorf("data-room = %q", v)
			}
		case n.Data == "span" && n.Parent != nil && n.Parent.Data == "p2p-frame":
			inner++
		}
	}
	if frames != 2 || chats != 1 || inner != 1 {
		t.Fatalf("got %d frames, %d chat divs inside a frame, %d inner spans; want 2, 1, 1 in %s", frames, chats, inner, b.String())
	}
}
