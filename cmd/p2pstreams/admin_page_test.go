package main

import (
	"testing"

	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/protocol"
)

// The admin page in Chromium: it lists the live room with its host and
// peers and their states, updating live, and its button removes a peer.
func TestAdminPage(t *testing.T) {
	b := browsertest.Shared(t) // skips loudly without Chromium or outside the namespace
	base, _ := serve(t, "--secret", testSecret, "--admin-secret", adminSecret)
	alice := joinAt(t, base, testSecret, "alice")
	read(t, alice)

	p := b.NewPage(t)
	p.Navigate(base + "admin/")
	p.Eval(`document.getElementById("secret").value = `+"`"+adminSecret+"`"+`; document.querySelector("#login button").click(); true`, nil)
	p.WaitText("room lobby · host alice")
	p.WaitText("alice: joined")

	bob := joinAt(t, base, testSecret, "bob") // the page follows without a reload
	read(t, bob)
	read(t, alice)
	wsutil.WriteClientText(alice, []byte(`{"type":"Connection","state":"PeerStates","data":{"alice":"connected","bob":"connected"}}`))
	p.WaitText("bob: connected")
	p.WaitText("alice: connected")

	p.Eval(`document.querySelector('li[data-peer="bob"] button').click(); true`, nil)
	if m := read(t, bob); m.Code != protocol.CodePeerRemoved {
		t.Errorf("bob got %+v, want peer_removed", m)
	}
	p.WaitTrue(`!document.querySelector('li[data-peer="bob"]')`, "bob gone from the admin page")
	if m := read(t, alice); m.State != protocol.PeerLeft || m.PeerID != "bob" {
		t.Errorf("alice got %+v, want PeerLeft bob", m)
	}
}

// The admin page served by one `serve --redis` node lists a room whose
// members are on the other, and removes a peer connected there.
func TestAdminPageAcrossNodes(t *testing.T) {
	b := browsertest.Shared(t)
	rs := testenv.Redis(t)
	url := "redis://" + rs.Addr + "/0"
	nodeA, _ := serve(t, "--secret", testSecret, "--redis", url)
	nodeB, _ := serve(t, "--secret", testSecret, "--redis", url, "--admin-secret", adminSecret)
	alice := joinAt(t, nodeA, testSecret, "alice")
	read(t, alice)
	bob := joinAt(t, nodeA, testSecret, "bob")
	read(t, bob)
	read(t, alice)
	wsutil.WriteClientText(alice, []byte(`{"type":"Connection","state":"PeerStates","data":{"alice":"connected","bob":"connected"}}`))

	p := b.NewPage(t)
	p.Navigate(nodeB + "admin/")
	p.Eval(`document.getElementById("secret").value = `+"`"+adminSecret+"`"+`; document.querySelector("#login button").click(); true`, nil)
	p.WaitText("room lobby · host alice")
	p.WaitText("alice: connected")
	p.WaitText("bob: connected")

	p.Eval(`document.querySelector('li[data-peer="bob"] button').click(); true`, nil)
	if m := read(t, bob); m.Code != protocol.CodePeerRemoved {
		t.Errorf("bob got %+v, want peer_removed", m)
	}
	p.WaitTrue(`!document.querySelector('li[data-peer="bob"]')`, "bob gone from node b's admin page")
	if m := read(t, alice); m.State != protocol.PeerLeft || m.PeerID != "bob" {
		t.Errorf("alice got %+v, want PeerLeft bob", m)
	}
}
