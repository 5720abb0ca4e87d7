package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo"
	"github.com/p2pstreams/p2pstreams/internal/examplepeer/examplepeertest"
)

func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }

// The bot in the demo chat: a person in a browser joins its room, says hi,
// and sees the bot answer. Runs in a loopback-only namespace with Chromium
// (skips loudly otherwise).
func TestBotInDemoChat(t *testing.T) {
	b := browsertest.Shared(t)
	secret := "bot-browser-secret-0123456789"
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/", demo.New(srv, demo.Options{}))
	hs := httptest.NewServer(mux)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &examplepeertest.Buffer{}, &examplepeertest.Buffer{}
	done := make(chan error, 1)
	wsURL := "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/"
	go func() {
		done <- run(ctx, []string{"-url", wsURL, "-secret", secret, "-room", "lobby", "-loopback"}, out, errOut)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v (stderr: %s)", err, errOut.String())
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "joined room") {
		if time.Now().After(deadline) {
			t.Fatalf("the bot did not join: %q %q", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	p := b.NewPage(t)
	p.Navigate(hs.URL + "/room?name=alice&room=lobby")
	p.WaitText("bot: connected")
	p.WaitText("alice: connected")
	p.WaitTrue(`!document.querySelector('input[placeholder="message"]').disabled`, "an enabled message box")
	p.Do(
		chromedp.SendKeys(chromedp.CSS(`input[placeholder="message"]`), "hi bot"),
		chromedp.Click(chromedp.CSS(`#send button`)),
	)
	p.WaitText("alice: hi bot")
	p.WaitText("bot: echo alice: hi bot")
}
