package p2pstreams

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (w *syncBuffer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.Write(p)
}

// records returns the JSON log records so far.
func (w *syncBuffer) records(t *testing.T) []map[string]any {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(w.b.String()), "\n") {
		var r map[string]any
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		out = append(out, r)
	}
	return out
}

// Every lifecycle event is one log line with the session and peer ids;
// no line ever holds a token.
func TestLifecycleLogLines(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, url := newTestServer(t, &Options{Logger: log, MaxPeers: 2})
	host, _ := join(t, srv, url, "room", "alice")
	bob, _ := join(t, srv, url, "room", "bob")
	host.expect(protocol.SessionReady)
	carol := dial(t, url)
	carol.join(srv, "room", "carol")
	carol.expectError(protocol.CodeSessionFull)
	forged := dial(t, url)
	forged.send(protocol.Message{State: protocol.SessionJoin, Token: "forged.token.value"})
	forged.expectError(protocol.CodeBadToken)
	bob.nc.Close() // the host is not told: it sees its link to bob

	want := []struct{ msg, session, peer, code string }{
		{"peer joined", "room", "alice", ""},
		{"peer joined", "room", "bob", ""},
		{"join refused", "room", "carol", "session_full"},
		{"join refused", "", "", "bad_token"},
		{"peer left", "room", "bob", ""},
		{"connection closed", "room", "bob", ""},
	}
	var recs []map[string]any
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		recs = buf.records(t)
		if len(match(recs, "connection closed")) > 0 {
			break
		}
	}
	tok, _ := srv.Token("room", "bob", time.Hour, nil)
	for _, r := range recs {
		b, _ := json.Marshal(r)
		if strings.Contains(string(b), "forged.token") || strings.Contains(string(b), tok[:20]) {
			t.Errorf("a log line holds a token: %s", b)
		}
	}
	for _, w := range want {
		found := false
		for _, r := range match(recs, w.msg) {
			if str(r["session"]) == w.session && str(r["peer"]) == w.peer && str(r["code"]) == w.code {
				found = true
			}
		}
		if !found {
			t.Errorf("no %q line for session %q peer %q code %q in\n%v", w.msg, w.session, w.peer, w.code, recs)
		}
	}
	if n := len(match(recs, "connection opened")); n != 4 {
		t.Errorf("%d connection opened lines, want 4", n)
	}
}

func match(recs []map[string]any, msg string) []map[string]any {
	var out []map[string]any
	for _, r := range recs {
		if r["msg"] == msg {
			out = append(out, r)
		}
	}
	return out
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
