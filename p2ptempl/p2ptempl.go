// Package p2ptempl renders the <p2p-frame> as templ components
// (github.com/a-h/templ), without depending on templ: a templ.Component is
// any value with the method Render(ctx, w) error, which the values here
// have, and Frame takes the content as such a value, so a component written
// in templ fits in.
//
//	import "github.com/p2pstreams/p2pstreams/p2ptempl"
//
//	templ Room(srv *p2pstreams.Server, frame p2pstreams.FrameOptions) {
//		@p2ptempl.Frame(srv, frame, chatBox())
//	}
//
// or, with the content written in place:
//
//	@p2ptempl.FrameStart(srv, frame)
//		<div id="chat">…</div>
//	@p2ptempl.FrameEnd()
//
// The markup is the template helper's (Server.FrameStart): a fresh signed
// token per render, every attribute escaped.
package p2ptempl

import (
	"context"
	"io"

	"github.com/p2pstreams/p2pstreams"
)

// Component is templ.Component, declared here so that this package does not
// import templ: values of either type are values of the other.
type Component interface {
	Render(ctx context.Context, w io.Writer) error
}

// ComponentFunc is a function that is a Component.
type ComponentFunc func(ctx context.Context, w io.Writer) error

// Render calls f.
func (f ComponentFunc) Render(ctx context.Context, w io.Writer) error { return f(ctx, w) }

// Frame renders <p2p-frame …>content</p2p-frame>; content may be nil. When
// the options are invalid it writes nothing and returns Server.FrameStart's
// error.
func Frame(srv *p2pstreams.Server, o p2pstreams.FrameOptions, content Component) Component {
	return ComponentFunc(func(ctx context.Context, w io.Writer) error {
		open, err := srv.FrameStart(o)
		if err != nil {
			return err
		}
		if _, err := io.WriteString(w, string(open)); err != nil {
			return err
		}
		if content != nil {
			if err := content.Render(ctx, w); err != nil {
				return err
			}
		}
		_, err = io.WriteString(w, string(p2pstreams.FrameEnd()))
		return err
	})
}

// FrameStart renders only the opening tag of Frame; close it with FrameEnd.
func FrameStart(srv *p2pstreams.Server, o p2pstreams.FrameOptions) Component {
	return ComponentFunc(func(_ context.Context, w io.Writer) error {
		open, err := srv.FrameStart(o)
		if err != nil {
			return err
		}
		_, err = io.WriteString(w, string(open))
		return err
	})
}

// FrameEnd renders the closing tag </p2p-frame>.
func FrameEnd() Component {
	return ComponentFunc(func(_ context.Context, w io.Writer) error {
		_, err := io.WriteString(w, string(p2pstreams.FrameEnd()))
		return err
	})
}
