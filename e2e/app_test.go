// Package e2e runs the demo chat and the Stimulus test page in real headless
// Chromium, several users in separate browser contexts, driven as a person
// would: typing in the form, clicking Join and Send, closing and reloading
// pages, and reading what the page shows.
//
// Run in a loopback-only network namespace (browsertest skips otherwise):
//
//	unshare --net sh -c 'ip link set lo up && exec go test ./e2e/...'
package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo"
)

func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }

// long skips t under -short: CI's second pass (-race -short) runs only the
// core path (join, relay, failover, Stimulus) in the browser, to stay quick.
func long(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the full browser suite ran in the pass without -short")
	}
}

// app is one signaling server with the demo chat, on a loopback port.
type app struct {
	t   *testing.T
	srv *p2pstreams.Server
	url string
	b   *browsertest.Browser
}

// secret is every test server's token secret (Go peers sign their own tokens).
const secret = "e2e-test-secret-0123456789"

// startApp starts a fresh server (so tests share no state) and returns it
// with the shared browser. extra, if not nil, mounts more handlers beside the demo.
func startApp(t *testing.T, extra func(*p2pstreams.Server, *http.ServeMux)) *app {
	t.Helper()
	b := browsertest.Shared(t)
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/", demo.New(srv, demo.Options{}))
	if extra != nil {
		extra(srv, mux)
	}
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.Close()
	})
	return &app{t: t, srv: srv, url: ts.URL, b: b}
}

// join opens a new user's page at the demo's form, fills it in and clicks
// Join, and waits for the room page.
func (a *app) join(name, room string, manualFailover bool) *browsertest.Page {
	a.t.Helper()
	p := a.b.NewPage(a.t)
	p.Navigate(a.url + "/")
	actions := []chromedp.Action[chromedp.Void]{
		chromedp.SendKeys(chromedp.CSS(`input[placeholder="name"]`), name),
	}
	if room != "" {
		actions = append(actions, chromedp.SendKeys(chromedp.CSS(`input[placeholder="room"]`), room))
	}
	if manualFailover {
		actions = append(actions, chromedp.Click(chromedp.CSS(`input[name="failover"]`)))
	}
	actions = append(actions, chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	p.Do(actions...)
	p.WaitTrue(`location.pathname === "/room" && document.readyState === "complete"`, name+"'s room page")
	return p
}

// open opens a new user's page directly at a room URL with query switches.
func (a *app) open(name, room string, query url.Values) *browsertest.Page {
	a.t.Helper()
	if query == nil {
		query = url.Values{}
	}
	query.Set("name", name)
	query.Set("room", room)
	p := a.b.NewPage(a.t)
	p.Navigate(a.url + "/room?" + query.Encode())
	return p
}

// waitConns waits until the server has n open WebSocket connections.
func (a *app) waitConns(n int64) {
	a.t.Helper()
	deadline := time.Now().Add(browsertest.Timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got := a.srv.Stats().Connections
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("server has %d open WebSocket connections, want %d", got, n)
		}
		<-tick.C
	}
}

// frameSocketOpen tells whether the page's <p2p-frame> holds an open
// signaling WebSocket (the client's own view, beside the server's count).
func frameSocketOpen(p *browsertest.Page) bool {
	var open bool
	p.Eval(`document.querySelector("p2p-frame").peer.signaling.isOpen`, &open)
	return open
}
