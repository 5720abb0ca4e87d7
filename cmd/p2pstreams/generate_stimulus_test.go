package main

import (
	"context"
	"html/template"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/internal/browsertest"
)

// stimulusPage is a page with the import map the Stimulus controller's
// header comment asks for, registering a subclass of the generated
// controller that records its callbacks.
const stimulusPage = `<!doctype html>
<html><head><meta charset="utf-8">
<script type="importmap">
{"imports": {"@hotwired/stimulus": "/vendor/stimulus.js", "p2pstreams/stimulus": "/p2p/stimulus.js"}}
</script>
<script type="module">
import { Application } from "@hotwired/stimulus"
import ChatRoomController from "/static/chat_room_controller.js"
window.seen = []
class Probe extends ChatRoomController {
  p2pConnected() { window.seen.push("connected") }
  p2pReceivedMessage(m) { if (m.type === "Data") window.seen.push(m.senderId + ": " + m.data) }
}
Application.start().register("chat-room", Probe)
</script></head><body>
{{p2pFrameStart .}}<div data-controller="chat-room"></div>{{p2pFrameEnd}}
</body></html>`

// TestStimulusControllerRuns loads a generated --stimulus controller in
// Chromium with Stimulus: its import of "p2pstreams/stimulus" resolves through the import
// map, Stimulus connects it to the frame, and its callbacks run.
func TestStimulusControllerRuns(t *testing.T) {
	b := browsertest.Shared(t)
	static := t.TempDir()
	if _, err := gen(t, "controller", "chat_room", "--stimulus", "--dir", static); err != nil {
		t.Fatal(err)
	}

	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: []byte("stimulus-generator-test-secret")})
	if err != nil {
		t.Fatal(err)
	}
	tmpl := template.Must(template.New("page").Funcs(srv.TemplateFuncs()).Parse(stimulusPage))
	mux := http.NewServeMux()
	mux.Handle("/p2p/", srv)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServer(http.Dir(static))))
	mux.Handle("GET /vendor/stimulus.js", browsertest.Stimulus)
	mux.HandleFunc("GET /room", func(w http.ResponseWriter, r *http.Request) {
		peer := p2pstreams.PeerID(r.URL.Query().Get("name"))
		if err := tmpl.Execute(w, p2pstreams.FrameOptions{Session: "stimulus-gen", Peer: peer}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
		}
	})
	hs := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Shutdown(context.Background())
		hs.Close()
	})

	alice, bob := b.NewPage(t), b.NewPage(t)
	alice.Navigate(hs.URL + "/room?name=alice")
	bob.Navigate(hs.URL + "/room?name=bob")
	for _, p := range []*browsertest.Page{alice, bob} {
		p.WaitTrue(`window.seen.includes("connected")`, "the generated Stimulus controller's p2pConnected")
	}
	alice.Eval(`document.querySelector("p2p-frame").send("hi from a generated controller")`, nil)
	for _, p := range []*browsertest.Page{alice, bob} {
		p.WaitTrue(`window.seen.includes("alice: hi from a generated controller")`, "the generated Stimulus controller's p2pReceivedMessage")
	}
}
