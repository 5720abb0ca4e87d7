package p2pstreams

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// TestBacklogArrivesWhole: frames written straight from the sender's
// goroutine until the receiver's socket is full, then partly, then through
// the writer, arrive whole and in order once the receiver reads again.
func TestBacklogArrivesWhole(t *testing.T) {
	checkNoLeaks(t)
	srv, url := newTestServer(t, &Options{RateLimit: -1, SendQueueBytes: 32 << 20})
	host, _ := join(t, srv, url, "room", "host")
	client, _ := join(t, srv, url, "room", "client")
	host.expect(protocol.SessionReady)
	const n = 150 // 150 x ~60 KiB: more than loopback socket buffers hold
	pad := strings.Repeat("x", 60<<10)
	for i := range n {
		data := fmt.Sprintf(`{"i":%d,"pad":"%s"}`, i, pad[:len(pad)-i])
		host.send(protocol.Message{State: protocol.IceCandidate, To: "client", Data: json.RawMessage(data)})
	}
	for i := range n {
		m := client.expect(protocol.IceCandidate)
		var d struct {
			I   int
			Pad string
		}
		if err := json.Unmarshal(m.Data, &d); err != nil || d.I != i || len(d.Pad) != len(pad)-i {
			t.Fatalf("message %d: i=%d, %d bytes of padding, %v", i, d.I, len(d.Pad), err)
		}
	}
}
