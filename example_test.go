package p2pstreams_test

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/token"
)

// The usual flow: mount the Server at /p2p/ (signaling, and the browser
// client at /p2p/p2pstreams.js), give your templates its funcs, and render
// a <p2p-frame> with a signed token for the signed-in user. The browser
// client joins the session with it; your controller does the rest.
func Example() {
	secret := []byte("a secret of at least 16 bytes, from your config")
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: secret})
	if err != nil {
		panic(err)
	}
	defer srv.Shutdown(context.Background()) // tells the peers, closes their WebSockets

	page := template.Must(template.New("room").Funcs(srv.TemplateFuncs()).Parse(`<!doctype html>
<script type="module" src="/p2p/p2pstreams.js"></script>
{{p2pFrameStart .}}<div id="chat"></div>{{p2pFrameEnd}}`))

	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.HandleFunc("GET /room/{id}", func(w http.ResponseWriter, r *http.Request) {
		user := "alice" // your signed-in user's id: the token vouches for it
		err := page.Execute(w, p2pstreams.FrameOptions{
			Session:   p2pstreams.SessionID("room-" + r.PathValue("id")),
			Peer:      p2pstreams.PeerID(user),
			ExpiresIn: 2 * time.Hour,
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	hs := httptest.NewServer(mux) // in an app: http.ListenAndServe(":8080", mux)
	defer hs.Close()

	// What a browser gets: the page, whose frame carries the token...
	res, err := http.Get(hs.URL + "/room/42")
	if err != nil {
		panic(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	_, rest, _ := strings.Cut(string(body), `token="`)
	tok, _, _ := strings.Cut(rest, `"`)
	claims, err := token.Verify(secret, tok, time.Now())
	fmt.Println(claims.Session, claims.Peer, err)
	// ...and the client script.
	res, err = http.Get(hs.URL + "/p2p/p2pstreams.js")
	if err != nil {
		panic(err)
	}
	res.Body.Close()
	fmt.Println(res.StatusCode, res.Header.Get("Content-Type"))
	// Output:
	// room-42 alice <nil>
	// 200 text/javascript; charset=utf-8
}

// Below the client: issue a token for a peer and join with it over a raw
// WebSocket, as a browser's <p2p-frame> does (PROTOCOL.md).
func Example_protocol() {
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{
		Secret: []byte("a secret of at least 16 bytes, from your config"),
	})
	if err != nil {
		panic(err)
	}
	hs := httptest.NewServer(srv) // in an app: mux.Handle("/p2p/", srv)
	defer hs.Close()
	defer srv.Shutdown(context.Background())

	tok, err := srv.Token("lobby", "alice", time.Hour, nil)
	if err != nil {
		panic(err)
	}
	conn, _, _, err := ws.Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http")+"/p2p/")
	if err != nil {
		panic(err)
	}
	defer conn.Close()
	wsutil.WriteClientText(conn, []byte(`{"type":"Connection","state":"SessionJoin","token":"`+tok+`"}`))
	msg, _ := wsutil.ReadServerText(conn)
	fmt.Println(string(msg))
	// Output: {"type":"Connection","state":"SessionReady","sessionId":"lobby","peerId":"alice","hostPeerId":"alice","iceServers":[]}
}
