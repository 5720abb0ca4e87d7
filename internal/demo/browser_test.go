package demo_test

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo"
	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"
)

func TestMain(m *testing.M) { os.Exit(browsertest.Main(m)) }

// room is the demo on a loopback port, with the shared browser.
type room struct {
	t   *testing.T
	b   *browsertest.Browser
	srv *p2pstreams.Server
	url string
}

func startDemo(t *testing.T, o demo.Options) *room {
	t.Helper()
	b := browsertest.Shared(t)
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("/", demo.New(srv, o))
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		ts.Close()
	})
	return &room{t: t, b: b, srv: srv, url: ts.URL}
}

// open opens a new user's room page in a window of w×h CSS pixels.
func (r *room) open(name, room string, w, h int64, query url.Values) *browsertest.Page {
	r.t.Helper()
	if query == nil {
		query = url.Values{}
	}
	query.Set("name", name)
	query.Set("room", room)
	p := r.b.NewPage(r.t)
	p.Do(chromedp.EmulateViewport(w, h))
	p.Navigate(r.url + "/room?" + query.Encode())
	return p
}

// screenshot saves the page as NAME.png in $P2PSTREAMS_SCREENSHOTS, if set
// (to look at the demo: P2PSTREAMS_SCREENSHOTS=/tmp/shots go test -run Layout ./internal/demo).
func screenshot(t *testing.T, p *browsertest.Page, name string) {
	t.Helper()
	dir := os.Getenv("P2PSTREAMS_SCREENSHOTS")
	if dir == "" {
		return
	}
	png, err := chromedp.Run(p.Context(), chromedp.CaptureScreenshot())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
}

// items returns the peer list as the page shows it: each item's text and badge.
func items(p *browsertest.Page) map[string]string {
	var got map[string]string
	p.Eval(`Object.fromEntries([...document.querySelectorAll("#peers li")].map(li => [li.textContent, li.dataset.badge ?? ""]))`, &got)
	return got
}

// waitSystem waits for a system line of the chat.
func waitSystem(p *browsertest.Page, line string) {
	q, _ := json.Marshal(line)
	p.WaitTrue(fmt.Sprintf(`[...document.querySelectorAll("#lines > p.sys")].some(l => l.textContent === %s)`, q), fmt.Sprintf("system line %q", line))
}

// Everyone sees who the host is and which item is themselves; the items
// stay exactly "NAME: STATE"; joins are told in the chat, every line has a
// time, and an empty chat says so until the first message.
func TestRoomMarksHostAndYou(t *testing.T) {
	r := startDemo(t, demo.Options{})
	alice := r.open("alice", "lobby", 1200, 800, nil)
	alice.WaitText("alice: connected")
	bob := r.open("bob", "lobby", 1200, 800, nil)
	for _, p := range []*browsertest.Page{alice, bob} {
		p.WaitText("bob: connected")
	}
	want := map[*browsertest.Page]map[string]string{
		alice: {"alice: connected": "host · you", "bob: connected": ""},
		bob:   {"alice: connected": "host", "bob: connected": "you"},
	}
	for p, w := range want {
		if got := items(p); !maps.Equal(got, w) {
			t.Errorf("peer list %v, want %v", got, w)
		}
	}
	waitSystem(alice, "you joined lobby as its host")
	waitSystem(alice, "bob joined")
	waitSystem(bob, "you joined lobby · alice is the host")
	bob.WaitText("No messages yet")

	demotest.Say(bob, "hello")
	for _, p := range []*browsertest.Page{alice, bob} {
		demotest.WaitLine(p, "bob: hello")
		p.WaitTrue(`document.getElementById("empty").hidden`, "the empty state gone")
		var times []string
		p.Eval(`[...document.querySelectorAll("#lines > *")].map(l => l.dataset.time)`, &times)
		for _, tm := range times {
			if ok, _ := regexp.MatchString(`^\d\d:\d\d$`, tm); !ok {
				t.Errorf("a chat line has time %q, want HH:MM", tm)
			}
		}
	}
	var header string
	alice.Eval(`document.getElementById("role").textContent`, &header)
	if header != "(host)" {
		t.Errorf("the host's header says %q, want (host)", header)
	}
}

// Automatic failover is told: the old host left, who hosts now; the host
// badge moves; a client that leaves is told too.
func TestRoomTellsFailover(t *testing.T) {
	r := startDemo(t, demo.Options{})
	alice := r.open("alice", "r", 1200, 800, nil)
	alice.WaitText("alice: connected")
	bob := r.open("bob", "r", 1200, 800, nil)
	bob.WaitText("bob: connected")
	carol := r.open("carol", "r", 1200, 800, nil)
	for _, p := range []*browsertest.Page{bob, carol} {
		p.WaitText("carol: connected")
		p.WaitText("bob: connected")
	}
	alice.Close()
	healed := `(() => { const t = document.getElementById("peers").innerText
		return t.includes("bob: connected") && t.includes("carol: connected") && !t.includes("alice:") })()`
	bob.WaitTrue(healed, "bob's healed room")
	carol.WaitTrue(healed, "carol's healed room")
	var newHost string
	bob.Eval(`document.querySelector("p2p-frame").hostPeerId`, &newHost)
	other := map[string]*browsertest.Page{"bob": carol, "carol": bob}[newHost]
	self := map[string]*browsertest.Page{"bob": bob, "carol": carol}[newHost]
	if other == nil {
		t.Fatalf("the new host is %q, want bob or carol", newHost)
	}
	waitSystem(self, "you are now the host")
	waitSystem(other, newHost+" is now the host")
	for _, p := range []*browsertest.Page{bob, carol} {
		waitSystem(p, "lost the connection to the host, alice")
		waitSystem(p, "alice left")
		p.WaitTrue(fmt.Sprintf(`document.querySelector('#peers li[data-name=%q]').dataset.badge.startsWith("host")`, newHost), fmt.Sprintf("the host badge on %s (list %v)", newHost, items(p)))
	}
	demotest.Say(other, "still here")
	demotest.WaitLine(self, map[*browsertest.Page]string{bob: "carol", carol: "bob"}[self]+": still here")
}

// Manual mode: when the host goes, the banner and the list agree: nothing
// still says the host is connected.
func TestRoomManualModeAgrees(t *testing.T) {
	r := startDemo(t, demo.Options{})
	off := url.Values{"failover": {"off"}}
	alice := r.open("alice", "m", 1200, 800, off)
	alice.WaitText("alice: connected")
	bob := r.open("bob", "m", 1200, 800, url.Values{"failover": {"off"}})
	bob.WaitText("bob: connected")
	alice.Close()
	bob.WaitText("Stream disconnected! please refresh to continue")
	got := items(bob)
	if _, ok := got["alice: disconnected"]; !ok || len(got) != 2 {
		t.Errorf("bob's list after the host went: %v, want alice: disconnected", got)
	}
	var connected int
	bob.Eval(`document.querySelectorAll("#peers li.connected").length`, &connected)
	if connected != 0 {
		t.Errorf("%d items still show connected under the disconnected banner", connected)
	}
	waitSystem(bob, "lost the connection to the host, alice")
}

// A second tab with the same name is told what is wrong, in words.
func TestRoomSecondTab(t *testing.T) {
	r := startDemo(t, demo.Options{})
	amy := r.open("amy", "tabs", 1200, 800, nil)
	amy.WaitText("amy: connected")
	again := r.open("amy", "tabs", 1200, 800, nil)
	again.WaitText("You are already in this room in another tab or window.")
	if text := again.Text(); strings.Contains(text, "peer_connected") {
		t.Errorf("the raw code shows:\n%s", text)
	}
}

func TestLayout(t *testing.T) {
	r := startDemo(t, demo.Options{})
	alice := r.open("alice", "lobby", 1200, 800, nil)
	alice.WaitText("alice: connected")
	bob := r.open("bob", "lobby", 1200, 800, nil)
	phone := r.open("carol", "lobby", 390, 844, nil)
	for _, p := range []*browsertest.Page{alice, bob, phone} {
		p.WaitText("bob: connected")
		p.WaitText("carol: connected")
	}
	demotest.Say(alice, "hi all, welcome to the lobby")
	demotest.Say(bob, "hello alice!")
	demotest.Say(phone, "hi from my phone")
	demotest.WaitLine(bob, "carol: hi from my phone")
	demotest.WaitLine(phone, "carol: hi from my phone")
	screenshot(t, bob, "desktop-1200x800")
	screenshot(t, phone, "phone-390x844")

	// The desktop chat uses the window: most of its width and height.
	var card struct{ Width, Bottom float64 }
	bob.Eval(`(() => { const r = document.querySelector(".chat").getBoundingClientRect(); return {width: r.width, bottom: r.bottom} })()`, &card)
	if card.Width < 800 || card.Bottom < 740 {
		t.Errorf("at 1200x800 the chat is %.0f px wide and ends at %.0f px, want it to fill the window", card.Width, card.Bottom)
	}
	// The phone: nothing wider than the screen, and the message box stays on
	// screen however many people there are.
	for i := 0; i < 12; i++ {
		p := r.open(fmt.Sprintf("guest%02d", i), "lobby", 1200, 800, nil)
		defer p.Close()
	}
	phone.WaitText("guest11: connected")
	var fit struct {
		Scroll, InputBottom float64
	}
	phone.Eval(`({scroll: document.documentElement.scrollWidth,
		inputBottom: document.getElementById("message").getBoundingClientRect().bottom})`, &fit)
	if fit.Scroll > 390 || fit.InputBottom > 844 || fit.InputBottom < 700 {
		t.Errorf("at 390x844 with 15 people: page %.0f px wide, message box ends at %.0f px; want <= 390 and at the bottom", fit.Scroll, fit.InputBottom)
	}
	screenshot(t, phone, "phone-390x844-crowded")
}
