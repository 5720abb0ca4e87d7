// Package demo is the chat room that `p2pstreams serve` shows: an example
// app built only on the public API of p2pstreams (the template helper and
// the browser client served by the Server), as a user's app would be.
//
//	/                          a form: name, room (lobby when empty), Join
//	/room?name=N&room=R        the room: peers as "NAME: STATE", chat lines
//	                           as "SENDER: TEXT", a message box and Send
//
// Query switches on /room: failover=off (the manual mode of the Rails gem
// p2p_streams_channel: when the host goes, "Stream disconnected! please
// refresh to continue"), keep=on (keepCableConnection), relay=on
// (iceTransportPolicy "relay": through TURN only, when the server has TURN),
// share=host (clientsMayShare false: only the host shares streams),
// maxBitrate=N (each viewer's video and audio capped at N bits per second).
package demo

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/protocol"
)

//go:embed *.html
var files embed.FS

// static holds the room's controller, style and icon (chat.js, chat.css,
// icon.svg), served by the demo at /static/ and written into new apps by
// `p2pstreams new`.
//
//go:embed static
var static embed.FS

// Static returns the room's controller, style and icon: chat.js, chat.css, icon.svg.
func Static() fs.FS {
	sub, _ := fs.Sub(static, "static")
	return sub
}

// Options configure the demo. The zero value works when the Server is
// mounted at /p2p/.
type Options struct {
	// Mount is where the Server is mounted; default "/p2p/".
	Mount string
	// ExpiresIn is the lifetime of each peer's token; default 12h.
	ExpiresIn time.Duration
	// Heartbeat overrides the frame's heartbeat; zero means the defaults.
	Heartbeat p2pstreams.Heartbeat
}

// DefaultRoom is the room of a form left empty.
const DefaultRoom = "lobby"

type app struct {
	srv  *p2pstreams.Server
	o    Options
	tmpl *template.Template
}

// New returns the demo's handler, to be mounted at "/" beside srv.
func New(srv *p2pstreams.Server, o Options) http.Handler {
	if o.Mount == "" {
		o.Mount = "/p2p/"
	}
	if o.ExpiresIn <= 0 {
		o.ExpiresIn = 12 * time.Hour
	}
	a := &app{srv: srv, o: o}
	a.tmpl = template.Must(template.New("").Funcs(srv.TemplateFuncs()).ParseFS(files, "*.html"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", a.index)
	mux.HandleFunc("GET /room", a.room)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(Static())))
	return mux
}

func (a *app) index(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	a.render(w, "index.html", map[string]any{"Error": q.Get("error"), "Room": q.Get("room")})
}

func (a *app) room(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	name, room := strings.TrimSpace(q.Get("name")), strings.TrimSpace(q.Get("room"))
	if room == "" {
		room = DefaultRoom
	}
	if err := protocol.CheckID(name); err != nil {
		back(w, r, "Please choose a name (1-64 characters).")
		return
	}
	if err := protocol.CheckID(room); err != nil {
		back(w, r, "Please choose a room name (1-64 characters).")
		return
	}
	cfg := &p2pstreams.FrameConfig{
		Heartbeat:           a.o.Heartbeat,
		KeepCableConnection: q.Get("keep") == "on",
		ManualFailover:      q.Get("failover") == "off",
	}
	if q.Get("relay") == "on" {
		cfg.ICETransportPolicy = "relay"
	}
	if q.Get("share") == "host" {
		no := false
		cfg.ClientsMayShare = &no
	}
	if b, err := strconv.Atoi(q.Get("maxBitrate")); err == nil {
		cfg.MaxBitrate = b
	}
	if err := cfg.Validate(); err != nil {
		back(w, r, "This room's settings are not valid: "+err.Error()+".")
		return
	}
	a.render(w, "room.html", map[string]any{
		"Name":      name,
		"Room":      room,
		"Manual":    cfg.ManualFailover,
		"ClientURL": a.o.Mount + "p2pstreams.js",
		"Frame": p2pstreams.FrameOptions{
			URL:       a.frameURL(),
			Session:   p2pstreams.SessionID(room),
			Peer:      p2pstreams.PeerID(name),
			ExpiresIn: a.o.ExpiresIn,
			Config:    cfg,
		},
	})
}

// frameURL is the frame's signaling endpoint: the client's default (/p2p/)
// unless the Server is mounted elsewhere.
func (a *app) frameURL() string {
	if a.o.Mount == "/p2p/" {
		return ""
	}
	return a.o.Mount
}

func back(w http.ResponseWriter, r *http.Request, msg string) {
	http.Redirect(w, r, "/?error="+url.QueryEscape(msg), http.StatusSeeOther)
}

func (a *app) render(w http.ResponseWriter, name string, data any) {
	var b strings.Builder
	if err := a.tmpl.ExecuteTemplate(&b, name, data); err != nil {
		http.Error(w, "demo: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write([]byte(b.String()))
}
