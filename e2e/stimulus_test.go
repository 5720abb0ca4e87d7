package e2e

import (
	"html/template"
	"net/http"
	"net/url"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
	"github.com/p2pstreams/p2pstreams/internal/demo/demotest"
)

// stimulusPages serves the Stimulus test page: the chat controller of the Rails gem p2p_streams_channel,
// nearly unchanged, on the Stimulus adapter, with Stimulus vendored by browsertest.
func stimulusPages(srv *p2pstreams.Server, mux *http.ServeMux) {
	tmpl := template.Must(template.New("room.html").Funcs(srv.TemplateFuncs()).ParseFiles("testdata/stimulus/room.html"))
	mux.HandleFunc("GET /stimulus/room", func(w http.ResponseWriter, r *http.Request) {
		name := r.URL.Query().Get("name")
		err := tmpl.Execute(w, map[string]any{
			"Name":  name,
			"Frame": p2pstreams.FrameOptions{Session: "stimulus", Peer: p2pstreams.PeerID(name)},
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
	})
	mux.HandleFunc("GET /stimulus/chat_controller.js", func(w http.ResponseWriter, r *http.Request) {
		http.ServeFile(w, r, "testdata/stimulus/chat_controller.js")
	})
	mux.Handle("GET /stimulus/vendor/stimulus.js", browsertest.Stimulus)
}

func TestStimulusChatController(t *testing.T) {
	a := startApp(t, stimulusPages)
	open := func(name string) *browsertest.Page {
		p := a.b.NewPage(t)
		p.Navigate(a.url + "/stimulus/room?name=" + url.QueryEscape(name))
		return p
	}
	host := open("host")
	host.WaitText("host connected as host")
	peer1 := open("peer1")
	for _, p := range []*browsertest.Page{host, peer1} {
		p.WaitText("host: connected")
		p.WaitText("peer1: connected")
	}
	peer1.WaitText("peer1 connected to host")

	send := func(p *browsertest.Page, text string) {
		p.WaitTrue(`!document.querySelector('input[placeholder="message"]').disabled`, "an enabled message box")
		p.Do(
			chromedp.SendKeys(chromedp.CSS(`input[placeholder="message"]`), text),
			chromedp.Click(chromedp.CSS(`button[data-action="chat#send"]`)),
		)
	}
	send(peer1, "hi from stimulus")
	send(host, "<i>hello</i>")
	for _, p := range []*browsertest.Page{host, peer1} {
		demotest.WaitLine(p, "peer1: hi from stimulus")
		demotest.WaitLine(p, "host: <i>hello</i>")
	}
	var italics int
	peer1.Eval(`document.querySelectorAll("#lines i").length`, &italics)
	if italics != 0 {
		t.Errorf("markup in a message became %d elements", italics)
	}

	// Stimulus disconnects the controller when its element goes, and the
	// adapter unregisters it from the frame: the frame stops calling it.
	peer1.Eval(`document.querySelector("[data-controller=chat]").remove()`, nil)
	peer1.WaitTrue(`document.querySelector("p2p-frame").listeners.size === 0`, "the frame to have no listener left")
	send(host, "after")
	demotest.WaitLine(host, "host: after")
}
