package token

import (
	"testing"
	"time"
)

var benchSecret = []byte("0123456789abcdef0123456789abcdef")

func BenchmarkIssue(b *testing.B) {
	c := Claims{Session: "lobby", Peer: "bob", Expires: time.Now().Add(time.Hour).Unix()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Issue(benchSecret, c); err != nil {
			b.Fatal(err)
		}
	}
}

func benchVerify(b *testing.B, c Claims) {
	tok, err := Issue(benchSecret, c)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(benchSecret, tok, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	benchVerify(b, Claims{Session: "lobby", Peer: "bob", Expires: time.Now().Add(time.Hour).Unix()})
}

// A token with a frame config, as the template helper issues them.
func BenchmarkVerifyWithConfig(b *testing.B) {
	benchVerify(b, Claims{Session: "lobby", Peer: "bob", Expires: time.Now().Add(time.Hour).Unix(),
		Config: []byte(`{"iceServers":[],"heartbeat":{"interval_mls":1000,"idle_timeout_mls":5000},"keepCableConnection":false}`)})
}

// A forged token is refused before its claims are parsed.
func BenchmarkVerifyForged(b *testing.B) {
	tok, _ := Issue(benchSecret, Claims{Session: "lobby", Peer: "bob", Expires: time.Now().Add(time.Hour).Unix()})
	tok = tok[:len(tok)-2] + "AA"
	now := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Verify(benchSecret, tok, now); err == nil {
			b.Fatal("forged token verified")
		}
	}
}
