// Package e2e runs the demo chat in headless Chromium across two server
// nodes that share one Redis: the host's page is served by one node, the
// clients' pages by the other, so every SessionReady, offer, answer and ICE
// candidate crosses Redis. Run it in a loopback-only network namespace
// (browsertest skips otherwise):
//
//	unshare --net sh -c 'ip link set lo up && exec go test ./redis/e2e/'
package e2e

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"

	"github.com/chromedp/chromedp"
	"github.com/redis/go-redis/v9"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo"
	"github.com/p2pstreams/p2pstreams/internal/testenv"
	"github.com/p2pstreams/p2pstreams/p2predis"
)

func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }

func TestChatAcrossTwoNodes(t *testing.T) {
	b := browsertest.Shared(t)
	rs := testenv.Redis(t)
	rdb := redis.NewClient(&redis.Options{Addr: rs.Addr})
	t.Cleanup(func() { rdb.Close() })
	a, c := startNode(t, rdb), startNode(t, rdb)

	host := join(t, b, a, "host", "r")
	host.WaitText("host: connected")
	peer1 := join(t, b, c, "peer1", "r")
	peer2 := join(t, b, c, "peer2", "r")
	pages := []*browsertest.Page{host, peer1, peer2}
	for _, p := range pages {
		p.WaitText("host: connected")
		p.WaitText("peer1: connected")
		p.WaitText("peer2: connected")
	}
	demotest.Say(peer1, "hello from node two")
	demotest.Say(host, "hello from node one")
	for _, p := range pages {
		demotest.WaitLine(p, "peer1: hello from node two")
		demotest.WaitLine(p, "host: hello from node one")
	}
}

// startNode starts a server node with the demo chat, on the shared Redis.
func startNode(t *testing.T, rdb *redis.Client) string {
	t.Helper()
	broker := p2predis.NewBroker(rdb, nil)
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{
		Secret: []byte("two-node e2e secret, shared by both"),
		Store:  p2predis.NewStore(rdb, nil), Broker: broker,
	})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/", demo.New(srv, demo.Options{}))
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		ts.Close()
		broker.Close()
	})
	return ts.URL
}

// join opens a user's page on node url, fills in the demo's form and joins.
func join(t *testing.T, b *browsertest.Browser, url, name, room string) *browsertest.Page {
	t.Helper()
	p := b.NewPage(t)
	p.Navigate(url + "/")
	p.Do(
		chromedp.SendKeys(chromedp.CSS(`input[placeholder="name"]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[placeholder="room"]`), room),
		chromedp.Click(chromedp.CSS(`button[type="submit"]`)),
	)
	p.WaitTrue(`location.pathname === "/room" && document.readyState === "complete"`, name+"'s room page")
	return p
}
