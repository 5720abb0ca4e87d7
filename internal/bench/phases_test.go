package bench

import (
	"bytes"
	"encoding/binary"
	"slices"
	"testing"
	"time"
)

// frame builds one WebSocket frame, masked as a client sends it or not.
func frame(op byte, payload []byte, masked bool) []byte {
	b := []byte{0x80 | op, 0}
	switch n := len(payload); {
	case n < 126:
		b[1] = byte(n)
	case n < 1<<16:
		b[1] = 126
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b[1] = 127
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, payload...)
	}
	b[1] |= 0x80
	key := []byte{1, 2, 3, 4}
	b = append(b, key...)
	for i, c := range payload {
		b = append(b, c^key[i%4])
	}
	return b
}

// TestFrameScanner feeds an upgrade and frames of each length encoding,
// masked and not, one byte at a time and all at once: the scanner reports
// each text frame's state once, in order, and skips other frames.
func TestFrameScanner(t *testing.T) {
	sdp := `{"type":"Connection","state":"SdpOffer","data":"` + string(bytes.Repeat([]byte("x"), 70000)) + `"}`
	for _, masked := range []bool{false, true} {
		var stream []byte
		stream = append(stream, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"...)
		stream = append(stream, frame(1, []byte(`{"type":"Connection","state":"SessionReady"}`), masked)...)
		stream = append(stream, frame(9, []byte("ping"), masked)...)
		stream = append(stream, frame(1, []byte(`{"state":"IceCandidate","data":"`+string(bytes.Repeat([]byte("c"), 300))+`"}`), masked)...)
		stream = append(stream, frame(1, []byte(sdp), masked)...)
		stream = append(stream, frame(1, []byte(`not json`), masked)...)
		want := []string{"ws open", "in SessionReady", "in IceCandidate", "in SdpOffer"}
		for _, step := range []int{1, 7, len(stream)} {
			var s frameScanner
			var got []string
			for i := 0; i < len(stream); i += step {
				s.feed(stream[i:min(i+step, len(stream))], func(ev string) { got = append(got, ev) }, "in")
			}
			if !slices.Equal(got, want) {
				t.Errorf("masked %v, step %d: %q, want %q", masked, step, got, want)
			}
			if len(s.buf) != 0 {
				t.Errorf("masked %v, step %d: %d bytes left over", masked, step, len(s.buf))
			}
		}
	}
}

// TestPhases: the chain takes each step's first event after the one
// before (an earlier event of the same name, such as the host's own
// SessionReady, does not count), and stops at a missing step.
func TestPhases(t *testing.T) {
	t0 := time.Unix(1000, 0)
	ms := func(n int) time.Time { return t0.Add(time.Duration(n) * time.Millisecond) }
	var tr joinTrace
	tr.markAt("host in SessionReady", ms(-50)) // the host's own join
	for i, s := range phaseSteps[:4] {
		tr.markAt(s.event, ms(10*(i+1)))
	}
	tr.markAt("client in SessionReady", ms(25))
	got := tr.phases(t0)
	want := map[string]time.Duration{
		"connect": 10 * time.Millisecond, "send_join": 10 * time.Millisecond,
		"host_notified": 10 * time.Millisecond, "host_offer": 10 * time.Millisecond,
		"join_ready": 5 * time.Millisecond,
	}
	if len(got) != len(want) {
		t.Fatalf("phases %v, want %v", got, want)
	}
	for k, d := range want {
		if got[k] != d {
			t.Errorf("%s: %v, want %v", k, got[k], d)
		}
	}
}

// TestTailPhases: the slowest session's tail goes to the phase furthest
// over its median, not to the longest phase.
func TestTailPhases(t *testing.T) {
	ms := time.Millisecond
	med := map[string]Latency{"dtls": {P50: 3}, "offer_routed": {P50: 0.3}}
	total := []time.Duration{4 * ms, 40 * ms, 5 * ms}
	phases := []map[string]time.Duration{
		{"dtls": 3 * ms, "offer_routed": ms},
		{"dtls": 5 * ms, "offer_routed": 30 * ms},
		{"dtls": 4 * ms},
	}
	got := tailPhases(total, phases, med)
	if len(got) != 1 || got["offer_routed"] != 1 {
		t.Errorf("tail phases %v, want offer_routed once", got)
	}
}
