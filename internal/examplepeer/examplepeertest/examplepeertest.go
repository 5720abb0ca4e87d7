// Package examplepeertest runs the Go examples in tests: a signaling
// server with the demo, and output to wait on.
package examplepeertest

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/demo"
)

// Serve starts a signaling server with the demo for t; it returns the
// server's http:// URL and its ws:// signaling endpoint.
func Serve(t *testing.T, secret string) (httpURL, wsURL string) {
	t.Helper()
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: []byte(secret)})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/", demo.New(srv, demo.Options{}))
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { hs.Close(); srv.Shutdown(context.Background()) })
	return hs.URL, "ws" + strings.TrimPrefix(hs.URL, "http") + "/p2p/"
}

// Buffer is an io.Writer safe for concurrent use.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *Buffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *Buffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// WaitFor waits (30 s at most) until out holds text.
func WaitFor(t *testing.T, out, errOut *Buffer, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), text) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in %q (stderr %q)", text, out.String(), errOut.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}
