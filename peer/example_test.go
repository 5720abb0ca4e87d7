package peer_test

import (
	"context"
	"fmt"
	"log"
	"net/http/httptest"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/peer"
	"github.com/p2pstreams/p2pstreams/peer/peertest"
)

// A Go host and a Go client in one room of a p2pstreams server. The host
// answers every message it gets from someone else.
func ExampleJoin() {
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: p2pstreams.RandomSecret()})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv) // in an app: mux.Handle("/p2p/", srv)
	defer hs.Close()
	url := hs.URL + "/p2p/" // http:// is taken as ws://
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// The host: the first peer to join the room.
	var host *peer.Peer
	hostTok, _ := srv.Token("lobby", "bot", time.Hour, nil)
	host, err = peer.Join(ctx, peer.Config{
		URL: url, Token: hostTok,
		API: peertest.LoopbackAPI(), // this example stays on loopback
		OnMessage: func(m peer.Message) {
			if m.From != host.ID() { // every peer gets its own messages back too
				host.Send(ctx, "hello "+string(m.From)+", you said: "+m.Text())
			}
		},
	})
	if err != nil {
		log.Fatal(err)
	}
	defer host.Close(ctx)

	// A client: Join returns once its DataChannel to the host is open.
	got := make(chan peer.Message, 8)
	aliceTok, _ := srv.Token("lobby", "alice", time.Hour, nil)
	alice, err := peer.Join(ctx, peer.Config{
		URL: url, Token: aliceTok, API: peertest.LoopbackAPI(),
		OnMessage: func(m peer.Message) { got <- m },
	})
	if err != nil {
		log.Fatal(err)
	}
	defer alice.Close(ctx)
	fmt.Println("alice's host:", alice.HostID())

	alice.Send(ctx, "hi")
	for range 2 {
		m := <-got
		fmt.Printf("%s: %s\n", m.From, m.Text())
	}
	// Output:
	// alice's host: bot
	// alice: hi
	// bot: hello alice, you said: hi
}
