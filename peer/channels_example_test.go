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
	"github.com/p2pstreams/p2pstreams/protocol"
)

// A lossy, unordered channel for game state next to the default one: the
// host opens it, and a client's messages on it reach everyone with the
// channel's name.
func ExamplePeer_OpenChannel() {
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: p2pstreams.RandomSecret()})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	join := func(id string, got chan peer.Message) *peer.Peer {
		tok, _ := srv.Token("game", protocol.PeerID(id), time.Hour, nil)
		p, err := peer.Join(ctx, peer.Config{
			URL: hs.URL + "/p2p/", Token: tok, API: peertest.LoopbackAPI(),
			OnMessage: func(m peer.Message) { got <- m },
		})
		if err != nil {
			log.Fatal(err)
		}
		return p
	}
	hostGot, aliceGot := make(chan peer.Message, 8), make(chan peer.Message, 8)
	host := join("host", hostGot)
	defer host.Close(ctx)
	state := peer.ChannelOptions{Unordered: true, MaxRetransmits: new(3)} // at most 3 retries
	if _, err := host.OpenChannel("state", state); err != nil {
		log.Fatal(err)
	}
	alice := join("alice", aliceGot)
	defer alice.Close(ctx)

	ch, err := alice.OpenChannel("state", state) // the same options: alice's handle on it
	if err != nil {
		log.Fatal(err)
	}
	ch.Send(ctx, map[string]int{"x": 3})
	m := <-hostGot
	fmt.Printf("%s on %s: %s\n", m.From, m.Channel, m.Data)

	_, err = alice.OpenChannel(peer.DataChannelLabel, peer.ChannelOptions{})
	fmt.Println(protocol.CodeOf(err))
	// Output:
	// alice on state: {"x":3}
	// bad_channel
}
