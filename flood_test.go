package p2pstreams

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// floodOutcome is what a flooding connection read until it was closed.
type floodOutcome struct {
	codes  map[protocol.Code]int
	status ws.StatusCode
	reason string
	err    error
}

// readFlood reads tp's frames until the close frame, counting Error codes.
// It answers nothing: the server may have reset the connection by then.
// It reads fast, as the best-effort close of a slow reader needs.
func (tp *testPeer) readFlood() floodOutcome {
	o := floodOutcome{codes: map[protocol.Code]int{}}
	for {
		tp.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		f, err := ws.ReadFrame(tp.nc)
		if err != nil {
			o.err = err
			return o
		}
		switch f.Header.OpCode {
		case ws.OpClose:
			o.status, o.reason = ws.ParseCloseFrameData(f.Payload)
			return o
		case ws.OpText:
			if len(f.Payload) > 1024 {
				continue // not an Error: skip decoding, so that reading keeps up
			}
			var m protocol.Message
			json.Unmarshal(f.Payload, &m)
			if m.State == protocol.Error {
				o.codes[m.Code]++
			}
		}
	}
}

// 20,000 messages as fast as possible to the host (after the join, which
// took one token of the burst): the flooder is answered
// rate_limited (at most once a second) and closed with flood; the host is
// never closed, and gets exactly the messages that were not refused, in
// order.
func TestFloodIsRefusedAtTheFlooder(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, nil)
	host, _ := join(t, srv, url, "room", "host")
	f, _ := join(t, srv, url, "room", "flooder")
	host.expect(protocol.SessionReady)
	const n = 20000
	burst := candidates("host", n)
	start := time.Now()
	go f.nc.Write(burst) // ends when the server stops reading and closes
	out := f.readFlood()
	elapsed := time.Since(start)
	if out.err != nil || out.status != ws.StatusPolicyViolation || out.reason != string(protocol.CodeFlood) || out.codes[protocol.CodeFlood] != 1 {
		t.Fatalf("the flooder got %+v (%v), want Error flood and close 1008 flood", out, out.err)
	}
	if k := out.codes[protocol.CodeRateLimited]; k < 1 || k > 1+int(elapsed/time.Second) {
		t.Fatalf("rate_limited %d times in %v: want at least one, at most one a second", k, elapsed)
	}
	st := srv.Stats()
	if st.FloodClosed != 1 || st.RateLimited <= int64(srv.o.RateBurst) || st.Relayed < int64(srv.o.RateBurst)-1 || st.Relayed+st.RateLimited > n {
		t.Fatalf("stats %+v", st)
	}
	// The host gets what was relayed, in order, and nothing else: the next
	// thing it hears is the answer to its own message.
	last := -1
	for range st.Relayed {
		m := host.next()
		var d struct{ I int }
		json.Unmarshal(m.Data, &d)
		if m.State != protocol.IceCandidate || m.From != "flooder" || d.I <= last {
			t.Fatalf("after candidate %d the host got %+v", last, m)
		}
		last = d.I
	}
	host.send(protocol.Message{State: protocol.IceCandidate, To: "nobody", Data: json.RawMessage(`{}`)})
	host.expectError(protocol.CodePeerNotFound)
	if st := srv.Stats(); st.SlowClosed != 0 {
		t.Fatalf("%d connections closed as slow", st.SlowClosed)
	}
}

// Garbage before joining gets the same treatment: Errors up to the burst,
// then rate_limited, then flood.
func TestGarbageFloodBeforeJoin(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, nil)
	p := dial(t, url)
	var b bytes.Buffer
	for range 20000 {
		wsutil.WriteClientText(&b, []byte("{"))
	}
	start := time.Now()
	go p.nc.Write(b.Bytes())
	out := p.readFlood()
	// Past the burst, the bucket refills at the rate while the flood is read
	// (over a second under -race on a busy machine).
	burst, refilled := srv.o.RateBurst, int(srv.o.RateLimit*time.Since(start).Seconds())+1
	if out.err != nil || out.reason != string(protocol.CodeFlood) || out.codes[protocol.CodeRateLimited] < 1 ||
		out.codes[protocol.CodeBadMessage] < burst || out.codes[protocol.CodeBadMessage] > burst+refilled {
		t.Fatalf("got %+v", out)
	}
	if st := srv.Stats(); st.SlowClosed != 0 || st.FloodClosed != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// A ping flood from a peer that reads only afterwards: at most one pong
// waits for it, so its queue never fills, and it stays connected.
func TestPingFloodKeepsOnePongWaiting(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, nil)
	p, _ := join(t, srv, url, "room", "alice")
	var b bytes.Buffer
	for i := range 20000 {
		wsutil.WriteClientMessage(&b, ws.OpPing, []byte{byte(i >> 8), byte(i)})
	}
	wsutil.WriteClientText(&b, []byte("{")) // then a message, to know when the pings are done
	if _, err := p.nc.Write(b.Bytes()); err != nil {
		t.Fatal(err)
	}
	pongs, lastPong := 0, []byte(nil)
	for {
		p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		h, err := ws.ReadHeader(p.nc)
		if err != nil {
			t.Fatalf("after %d pongs: %v", pongs, err)
		}
		payload := make([]byte, h.Length)
		if _, err := io.ReadFull(p.nc, payload); err != nil {
			t.Fatal(err)
		}
		if h.OpCode == ws.OpPong {
			pongs++
			lastPong = payload
			continue
		}
		if h.OpCode != ws.OpText || !bytes.Contains(payload, []byte(protocol.CodeBadMessage)) {
			t.Fatalf("after %d pongs got %v %q", pongs, h.OpCode, payload)
		}
		break
	}
	if pongs < 1 || !bytes.Equal(lastPong, []byte{19999 >> 8, 19999 & 0xff}) {
		t.Fatalf("%d pongs, the last one for %v: want the last ping answered", pongs, lastPong)
	}
	if st := srv.Stats(); st.SlowClosed != 0 || st.Connections != 1 {
		t.Fatalf("stats %+v", st)
	}
}
