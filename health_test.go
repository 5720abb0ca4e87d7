package p2pstreams

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHealthAndReadyHandlers(t *testing.T) {
	srv, _ := newTestServer(t, nil)
	probe := func(h http.Handler) (int, string) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		return rec.Code, rec.Body.String()
	}
	if code, _ := probe(HealthHandler()); code != http.StatusOK {
		t.Errorf("healthz: %d", code)
	}
	if code, body := probe(srv.ReadyHandler(0)); code != http.StatusOK {
		t.Errorf("readyz with memory backends: %d %q", code, body)
	}
	srv.Shutdown(context.Background())
	if err := srv.Ready(context.Background()); !errors.Is(err, ErrShuttingDown) {
		t.Errorf("Ready after Shutdown: %v", err)
	}
	if code, body := probe(srv.ReadyHandler(0)); code != http.StatusServiceUnavailable || !strings.Contains(body, "shutting down") {
		t.Errorf("readyz after Shutdown: %d %q, want 503", code, body)
	}
}
