package main

import (
	"crypto/subtle"
	_ "embed"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/p2pstreams/p2pstreams"
)

// adminPage is the admin page at /admin/: live rooms, remove buttons.
//
//go:embed admin.html
var adminPage []byte

// adminAPI is serve's JSON admin API, behind a bearer secret
// (--admin-secret; off without one):
//
//	GET    /admin/api/sessions                    the live sessions (of every node with Redis), with their peers
//	DELETE /admin/api/sessions/{session}/peers/{peer}  remove a peer (Server.RemovePeer)
//	DELETE /admin/api/sessions/{session}          close a session (Server.CloseSession)
//
// Errors are {"error":{"code":...,"message":...}}: 401 unauthorized, 400
// bad_id, 404 no_session, 500 failed.
func adminAPI(srv *p2pstreams.Server, secret string) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/api/sessions", func(w http.ResponseWriter, r *http.Request) {
		ss, err := srv.Sessions(r.Context())
		if err != nil {
			adminError(w, http.StatusInternalServerError, "failed", err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{"sessions": ss})
	})
	mux.HandleFunc("DELETE /admin/api/sessions/{session}/peers/{peer}", func(w http.ResponseWriter, r *http.Request) {
		adminResult(w, srv.RemovePeer(r.Context(), p2pstreams.SessionID(r.PathValue("session")), p2pstreams.PeerID(r.PathValue("peer"))))
	})
	mux.HandleFunc("DELETE /admin/api/sessions/{session}", func(w http.ResponseWriter, r *http.Request) {
		adminResult(w, srv.CloseSession(r.Context(), p2pstreams.SessionID(r.PathValue("session"))))
	})
	want := []byte("Bearer " + secret)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/" && r.Method == http.MethodGet {
			// The page holds no data: it asks for the secret and calls the API.
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'unsafe-inline'; style-src 'unsafe-inline'")
			w.Write(adminPage)
			return
		}
		got := []byte(r.Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="p2pstreams admin"`)
			adminError(w, http.StatusUnauthorized, "unauthorized", "a valid Authorization: Bearer header is required")
			return
		}
		if _, pattern := mux.Handler(r); pattern == "" {
			adminError(w, http.StatusNotFound, "not_found", "no such admin endpoint")
			return
		}
		mux.ServeHTTP(w, r) // sets the path values
	})
}

func adminResult(w http.ResponseWriter, err error) {
	switch {
	case err == nil:
		w.WriteHeader(http.StatusNoContent)
	case errors.Is(err, p2pstreams.ErrBadID):
		adminError(w, http.StatusBadRequest, "bad_id", err.Error())
	case errors.Is(err, p2pstreams.ErrNoSession):
		adminError(w, http.StatusNotFound, "no_session", err.Error())
	default:
		adminError(w, http.StatusInternalServerError, "failed", err.Error())
	}
}

func adminError(w http.ResponseWriter, status int, code, message string) {
	writeJSON(w, status, map[string]any{"error": map[string]string{"code": code, "message": message}})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}
