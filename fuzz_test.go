package p2pstreams

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// FuzzConn feeds arbitrary bytes to a connection's frame reader: no input
// panics the server, and the connection always ends.
func FuzzConn(f *testing.F) {
	var b bytes.Buffer
	wsutil.WriteClientText(&b, []byte(`{"type":"Connection","state":"SessionLeave"}`))
	f.Add(b.Bytes())
	b.Reset()
	wsutil.WriteClientMessage(&b, ws.OpPing, []byte("hi"))
	ws.WriteFrame(&b, ws.MaskFrame(ws.NewFrame(ws.OpText, false, []byte(`{"type":`))))
	ws.WriteFrame(&b, ws.MaskFrame(ws.NewFrame(ws.OpContinuation, true, []byte(`"x"}`))))
	f.Add(b.Bytes())
	f.Add([]byte{0x81, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	srv, err := NewServer(&Options{Secret: testSecret, MaxMessageBytes: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		client, server := net.Pipe()
		c := newConn(srv, server)
		if !srv.add(c) {
			t.Fatal("server closed")
		}
		done := make(chan struct{})
		go func() {
			c.readLoop()
			close(done)
		}()
		go io.Copy(io.Discard, client)
		client.Write(in)
		client.Close()
		<-done
	})
}
