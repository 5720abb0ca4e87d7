package demo_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/demo"
	"github.com/p2pstreams/p2pstreams/token"
)

var secret = []byte("demo-test-secret-0123456789")

func handler(t *testing.T) http.Handler {
	t.Helper()
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return demo.New(srv, demo.Options{})
}

func do(h http.Handler, target string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest("GET", target, nil))
	return w
}

// find returns the elements of doc for which match is true.
func find(t *testing.T, body string, match func(*html.Node) bool) []*html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func TestIndexForm(t *testing.T) {
	w := do(handler(t), "/")
	if w.Code != http.StatusOK {
		t.Fatalf("GET / = %d", w.Code)
	}
	body := w.Body.String()
	for _, ph := range []string{"name", "room"} {
		if len(find(t, body, func(n *html.Node) bool { return n.Data == "input" && attr(n, "placeholder") == ph })) != 1 {
			t.Errorf("no input with placeholder %q", ph)
		}
	}
	buttons := find(t, body, func(n *html.Node) bool { return n.Data == "button" && attr(n, "type") == "submit" })
	if len(buttons) != 1 || buttons[0].FirstChild == nil || buttons[0].FirstChild.Data != "Join" {
		t.Errorf("want one submit button saying Join")
	}
	if w := do(handler(t), "/nope"); w.Code != http.StatusNotFound {
		t.Errorf("GET /nope = %d, want 404", w.Code)
	}
}

func TestRoomNeedsAName(t *testing.T) {
	for _, target := range []string{"/room", "/room?name=%20%20", "/room?name=" + strings.Repeat("x", 65), "/room?name=a&room=" + url.QueryEscape("bad\x01room")} {
		w := do(handler(t), target)
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/?error=") {
			t.Errorf("GET %s = %d to %q, want a redirect to the form with an error", target, w.Code, w.Header().Get("Location"))
		}
	}
	w := do(handler(t), "/?error="+url.QueryEscape("<b>oops</b>"))
	if !strings.Contains(w.Body.String(), "&lt;b&gt;oops&lt;/b&gt;") {
		t.Errorf("the error is not shown escaped:\n%s", w.Body.String())
	}
}

func TestRoomPage(t *testing.T) {
	evil := `<script>alert("x")</script>`
	w := do(handler(t), "/room?failover=off&keep=on&name="+url.QueryEscape(evil))
	if w.Code != http.StatusOK {
		t.Fatalf("GET /room = %d: %s", w.Code, w.Body.String())
	}
	body := w.Body.String()
	frames := find(t, body, func(n *html.Node) bool { return n.Data == "p2p-frame" })
	if len(frames) != 1 {
		t.Fatalf("want one p2p-frame, got %d", len(frames))
	}
	claims, err := token.Verify(secret, attr(frames[0], "token"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if claims.Session != demo.DefaultRoom || claims.Peer != p2pstreams.PeerID(evil) {
		t.Errorf("token for %q/%q, want %q/%q", claims.Session, claims.Peer, demo.DefaultRoom, evil)
	}
	var cfg map[string]any
	if err := json.Unmarshal([]byte(attr(frames[0], "config")), &cfg); err != nil {
		t.Fatal(err)
	}
	if cfg["manualFailover"] != true || cfg["keepCableConnection"] != true {
		t.Errorf("config %v, want manualFailover true and keepCableConnection true", cfg)
	}
	// The only scripts are the import map and the demo's own module; the name is text.
	scripts := find(t, body, func(n *html.Node) bool { return n.Data == "script" })
	if len(scripts) != 2 || attr(scripts[0], "type") != "importmap" || attr(scripts[1], "type") != "module" ||
		strings.Contains(scripts[1].FirstChild.Data, "alert") {
		t.Fatalf("want the import map and the demo's module script, got %d scripts", len(scripts))
	}
	var imports struct{ Imports map[string]string }
	if err := json.Unmarshal([]byte(scripts[0].FirstChild.Data), &imports); err != nil || imports.Imports["p2pstreams"] != "/p2p/p2pstreams.js" {
		t.Errorf("the import map does not point p2pstreams at the server's mount: %v %q", err, scripts[0].FirstChild.Data)
	}
	if !strings.Contains(scripts[1].FirstChild.Data, `from "/static/chat.js"`) {
		t.Errorf("the demo does not load its controller from /static/chat.js")
	}
	for _, ph := range []string{"message"} {
		if len(find(t, body, func(n *html.Node) bool { return n.Data == "input" && attr(n, "placeholder") == ph })) != 1 {
			t.Errorf("no input with placeholder %q", ph)
		}
	}
}

// The pages name their icon, which is served: no 404 for /favicon.ico.
func TestFavicon(t *testing.T) {
	h := handler(t)
	for _, target := range []string{"/", "/room?name=amy"} {
		icons := find(t, do(h, target).Body.String(), func(n *html.Node) bool { return n.Data == "link" && attr(n, "rel") == "icon" })
		if len(icons) != 1 || attr(icons[0], "href") != "/static/icon.svg" {
			t.Errorf("%s: want one icon at /static/icon.svg, got %d", target, len(icons))
		}
	}
}

// The room's controller and style are served with the page.
func TestStaticFiles(t *testing.T) {
	h := handler(t)
	for name, ctype := range map[string]string{"/static/chat.js": "javascript", "/static/chat.css": "text/css", "/static/icon.svg": "image/svg+xml"} {
		w := do(h, name)
		if w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Type"), ctype) {
			t.Errorf("GET %s = %d %q", name, w.Code, w.Header().Get("Content-Type"))
		}
	}
}

// The form keeps the room of an invitation link (/?room=R).
func TestInviteLink(t *testing.T) {
	inputs := find(t, do(handler(t), "/?room=book-club").Body.String(), func(n *html.Node) bool {
		return n.Data == "input" && attr(n, "placeholder") == "room"
	})
	if len(inputs) != 1 || attr(inputs[0], "value") != "book-club" {
		t.Errorf("the room input does not hold the invited room")
	}
}
