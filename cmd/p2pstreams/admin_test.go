package main

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/p2pstreams/p2pstreams/protocol"
)

const adminSecret = "admin-test-secret-0123456789"

// adminDo calls the admin API with the given bearer and returns the status
// and the decoded JSON body (nil for none).
func adminDo(t *testing.T, method, url, bearer string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]any
	if len(b) > 0 {
		if err := json.Unmarshal(b, &body); err != nil {
			t.Fatalf("%s %s: not JSON: %q", method, url, b)
		}
	}
	return resp.StatusCode, body
}

func errCode(body map[string]any) string {
	e, _ := body["error"].(map[string]any)
	s, _ := e["code"].(string)
	return s
}

func TestServeAdminAPI(t *testing.T) {
	base, _ := serve(t, "--secret", testSecret, "--admin-secret", adminSecret)
	api := base + "admin/api/"
	alice := joinAt(t, base, testSecret, "alice")
	read(t, alice)
	bob := joinAt(t, base, testSecret, "bob")
	read(t, bob)
	read(t, alice)

	for _, bearer := range []string{"", "wrong-secret-0123456789"} {
		if st, body := adminDo(t, "GET", api+"sessions", bearer); st != http.StatusUnauthorized || errCode(body) != "unauthorized" {
			t.Errorf("bearer %q: %d %v, want 401 unauthorized", bearer, st, body)
		}
	}
	st, body := adminDo(t, "GET", api+"sessions", adminSecret)
	b, _ := json.Marshal(body)
	if st != http.StatusOK || !strings.Contains(string(b), `"id":"lobby"`) || !strings.Contains(string(b), `"id":"bob"`) {
		t.Errorf("sessions: %d %s", st, b)
	}
	if st, body := adminDo(t, "DELETE", api+"sessions/lobby/peers/%01", adminSecret); st != http.StatusBadRequest || errCode(body) != "bad_id" {
		t.Errorf("a bad peer id: %d %v, want 400 bad_id", st, body)
	}
	if st, body := adminDo(t, "DELETE", api+"sessions/nowhere/peers/bob", adminSecret); st != http.StatusNotFound || errCode(body) != "no_session" {
		t.Errorf("an unknown session: %d %v, want 404 no_session", st, body)
	}
	if st, _ := adminDo(t, "DELETE", api+"sessions/lobby/peers/bob", adminSecret); st != http.StatusNoContent {
		t.Fatalf("remove bob: %d", st)
	}
	if m := read(t, bob); m.Code != protocol.CodePeerRemoved {
		t.Errorf("bob got %+v, want peer_removed", m)
	}
	if m := read(t, alice); m.State != protocol.PeerLeft || m.PeerID != "bob" {
		t.Errorf("alice got %+v, want PeerLeft bob", m)
	}
	if m := read(t, joinAt(t, base, testSecret, "bob")); m.Code != protocol.CodePeerRemoved {
		t.Errorf("bob joining again: %+v, want peer_removed", m)
	}

	// Without --admin-secret there is no admin API.
	base, _ = serve(t, "--secret", testSecret)
	waitStatus(t, base+"admin/api/sessions", http.StatusNotFound)
}
