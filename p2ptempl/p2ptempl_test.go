package p2ptempl_test

import (
	"context"
	"errors"
	"html"
	"io"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/p2pstreams/p2pstreams/p2ptempl"
	"github.com/p2pstreams/p2pstreams/token"
)

var secret = []byte("p2ptempl-test-secret-0123456789")

// templComponent is templ.Component's method set, written out: the values
// of this package must satisfy it, and it must satisfy Component.
type templComponent interface {
	Render(ctx context.Context, w io.Writer) error
}

var (
	_ templComponent     = p2ptempl.Frame(nil, p2pstreams.FrameOptions{}, nil)
	_ p2ptempl.Component = templComponent(nil)
)

func server(t *testing.T) *p2pstreams.Server {
	t.Helper()
	srv, err := p2pstreams.NewServer(&p2pstreams.Options{Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

var frameRE = regexp.MustCompile(`^<p2p-frame token="([^"]+)" config="[^"]*">(.*)</p2p-frame>$`)

func TestFrameRendersASignedFrameAroundItsContent(t *testing.T) {
	srv := server(t)
	content := p2ptempl.ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, `<div id="chat"></div>`)
		return err
	})
	var b strings.Builder
	o := p2pstreams.FrameOptions{Session: "room", Peer: "alice", ExpiresIn: time.Minute}
	if err := p2ptempl.Frame(srv, o, content).Render(context.Background(), &b); err != nil {
		t.Fatal(err)
	}
	m := frameRE.FindStringSubmatch(b.String())
	if m == nil || m[2] != `<div id="chat"></div>` {
		t.Fatalf("rendered %q", b.String())
	}
	c, err := token.Verify(secret, html.UnescapeString(m[1]), time.Now())
	if err != nil || c.Session != "room" || c.Peer != "alice" {
		t.Errorf("token: %+v, %v", c, err)
	}

	b.Reset()
	for _, c := range []p2ptempl.Component{p2ptempl.FrameStart(srv, o), content, p2ptempl.FrameEnd()} {
		if err := c.Render(context.Background(), &b); err != nil {
			t.Fatal(err)
		}
	}
	if m := frameRE.FindStringSubmatch(b.String()); m == nil || m[2] != `<div id="chat"></div>` {
		t.Errorf("FrameStart, content, FrameEnd rendered %q", b.String())
	}
}

func TestFrameErrors(t *testing.T) {
	srv := server(t)
	var b strings.Builder
	bad := p2pstreams.FrameOptions{Session: "", Peer: "alice"}
	if err := p2ptempl.Frame(srv, bad, nil).Render(context.Background(), &b); err == nil || b.Len() != 0 {
		t.Errorf("empty session: err %v, wrote %q", err, b.String())
	}
	if err := p2ptempl.FrameStart(srv, bad).Render(context.Background(), &b); err == nil || b.Len() != 0 {
		t.Errorf("FrameStart, empty session: err %v, wrote %q", err, b.String())
	}
	boom := errors.New("boom")
	failing := p2ptempl.ComponentFunc(func(context.Context, io.Writer) error { return boom })
	ok := p2pstreams.FrameOptions{Session: "room", Peer: "alice"}
	if err := p2ptempl.Frame(srv, ok, failing).Render(context.Background(), &b); !errors.Is(err, boom) {
		t.Errorf("content's error: got %v", err)
	}
}
