package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/protocol"
)

const hookSecret = "webhook-test-secret-0123456789"

// hookReceiver is a webhook endpoint that checks signatures, fails the
// first request (so that every run retries), and records what it accepted.
type hookReceiver struct {
	mu     sync.Mutex
	calls  int
	bodies []webhookBody
	bad    []string
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	mac := hmac.New(sha256.New, []byte(hookSecret))
	mac.Write(b)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.calls++
	if r.Header.Get(SignatureHeader) != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
		h.bad = append(h.bad, string(b))
		http.Error(w, "bad signature", http.StatusUnauthorized)
		return
	}
	if h.calls == 1 {
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	var body webhookBody
	json.Unmarshal(b, &body)
	h.bodies = append(h.bodies, body)
}

func (h *hookReceiver) events(t *testing.T, n int) []webhookBody {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		h.mu.Lock()
		got := append([]webhookBody(nil), h.bodies...)
		h.mu.Unlock()
		if len(got) >= n {
			return got
		}
	}
	t.Fatalf("the webhook got %d events, want %d", len(h.bodies), n)
	return nil
}

// serve posts the events of a scripted room to the webhook, signed, in
// order, each once (the first attempt fails and is retried).
func TestServeWebhook(t *testing.T) {
	recv := &hookReceiver{}
	hs := httptest.NewServer(recv)
	defer hs.Close()
	t.Setenv("P2PSTREAMS_WEBHOOK_SECRET", hookSecret)
	base, stop := serve(t, "--secret", testSecret, "--webhook-url", hs.URL+"/hook")
	alice := joinAt(t, base, testSecret, "alice")
	read(t, alice)
	bob := joinAt(t, base, testSecret, "bob")
	read(t, bob)
	read(t, alice)
	wsutil.WriteClientText(bob, []byte(`{"type":"Connection","state":"SessionLeave"}`))
	read(t, alice) // PeerLeft
	got := recv.events(t, 4)
	var lines []string
	ids := map[string]bool{}
	for _, b := range got {
		lines = append(lines, fmt.Sprintf("%s %s %s", b.Event.Type, b.Event.Session, b.Event.Peer))
		if ids[b.ID] || b.ID == "" {
			t.Errorf("id %q twice or empty", b.ID)
		}
		ids[b.ID] = true
	}
	want := "session_started lobby alice\npeer_joined lobby alice\npeer_joined lobby bob\npeer_left lobby bob"
	if strings.Join(lines, "\n") != want {
		t.Errorf("webhook events:\n%s\nwant:\n%s", strings.Join(lines, "\n"), want)
	}
	if len(recv.bad) > 0 {
		t.Errorf("bodies with a bad signature: %q", recv.bad)
	}
	if err := stop(); err != nil {
		t.Errorf("serve: %v", err)
	}
	// On shutdown the last events are delivered: alice's.
	recv.events(t, 4+2)
}

// A webhook endpoint that is down never holds up the server: joins go on,
// and what the queue cannot hold is dropped and counted.
func TestServeWebhookDown(t *testing.T) {
	down := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePort(t)) + "/hook"
	base, _ := serve(t, "--secret", testSecret, "--webhook-url", down, "--webhook-secret", hookSecret, "--webhook-queue", "1")
	for i := range 5 {
		c := joinAt(t, base, testSecret, protocol.PeerID(fmt.Sprint("p", i)))
		if m := read(t, c); m.State != protocol.SessionReady {
			t.Fatalf("join %d: %+v", i, m)
		}
	}
	body, _ := get(t, base+"metrics")
	if !strings.Contains(body, "p2pstreams_webhook_dropped_total") || strings.Contains(body, "p2pstreams_webhook_dropped_total 0\n") {
		t.Errorf("no webhook drops counted:\n%s", lineOf(body, "p2pstreams_webhook_dropped_total"))
	}
}

func TestServeWebhookRefusals(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--webhook-url", "http://127.0.0.1:1/h"}, "--webhook-secret"},
		{[]string{"--webhook-url", "ftp://x/h", "--webhook-secret", hookSecret}, "not an http"},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, tc.args...), io.Discard, io.Discard)
		cancel()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want an error naming %s", tc.args, err, tc.want)
		}
	}
}
