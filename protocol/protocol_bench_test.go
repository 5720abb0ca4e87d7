package protocol

import (
	"strings"
	"testing"
)

// A routed message of 256 bytes as a peer sends it, the relay benchmark's
// shape.
var routed256 = func() []byte {
	head := `{"type":"Connection","state":"IceCandidate","to":"bob","data":{"candidate":"`
	tail := `","sdpMid":"0"}}`
	return []byte(head + strings.Repeat("x", 256-len(head)-len(tail)) + tail)
}()

var join = []byte(`{"type":"Connection","state":"SessionJoin","token":"eyJzIjoibG9iYnkiLCJwIjoiYm9iIiwiZSI6MTg5MzQ1NjAwMH0.3q2-7wAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}`)

func BenchmarkDecodeRouted256(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(routed256)))
	for b.Loop() {
		if _, err := DecodeClient(routed256); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeJoin(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := DecodeClient(join); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkAppendRouted256(b *testing.B) {
	m, err := DecodeClient(routed256)
	if err != nil {
		b.Fatal(err)
	}
	from := Quote("alice")
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	b.SetBytes(int64(len(routed256)))
	for b.Loop() {
		buf = AppendRouted(buf[:0], m.State, from, m.To, m.Data)
	}
}

func BenchmarkEncodeSessionReady(b *testing.B) {
	m := &Message{State: SessionReady, SessionID: "lobby", PeerID: "bob", HostPeerID: "alice",
		Config: []byte(`{"heartbeat":{"interval_mls":1000,"idle_timeout_mls":5000}}`)}
	b.ReportAllocs()
	for b.Loop() {
		Encode(m)
	}
}

func BenchmarkQuote(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		Quote("alice")
	}
}
