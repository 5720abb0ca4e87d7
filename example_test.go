package p2pstreams_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams"
)

// Mount the server on a mux, issue a token for a peer, and join with it over
// a WebSocket (a browser's <p2p-frame> does this for you).
func Example() {
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
