package main

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/examplepeer/examplepeertest"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
)

// The bot hosts a room, a Go client says hi, and the bot answers.
func TestBotAnswers(t *testing.T) {
	secret := "bot-test-secret-0123456789"
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/"

	ctx, cancel := context.WithCancel(context.Background())
	out, errOut := &examplepeertest.Buffer{}, &examplepeertest.Buffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-url", url, "-secret", secret, "-room", "lobby", "-loopback"}, out, errOut)
	}()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v (stderr: %s)", err, errOut.String())
		}
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), `joined room "lobby" as host`) {
		if time.Now().After(deadline) {
			t.Fatalf("the bot did not join; stdout: %q stderr: %q", out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}

	tok, _ := srv.Token("lobby", "alice", time.Hour, nil)
	got := make(chan peer.Message, 8)
	jctx, jcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer jcancel()
	alice, err := peer.Join(jctx, peer.Config{URL: url, Token: tok, API: peertest.LoopbackAPI(), OnMessage: func(m peer.Message) { got <- m }})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close(context.Background())
	if err := alice.Send(jctx, "hi bot"); err != nil {
		t.Fatal(err)
	}
	for {
		select {
		case m := <-got:
			if m.From == "bot" {
				if m.Text() != "echo alice: hi bot" {
					t.Fatalf("the bot said %q", m.Text())
				}
				return
			}
		case <-jctx.Done():
			t.Fatalf("no answer from the bot; its stdout: %q", out.String())
		}
	}
}
