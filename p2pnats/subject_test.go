package p2pnats

import (
	"strings"
	"testing"
	"unicode"
)

func TestSubject(t *testing.T) {
	for _, c := range []struct{ topic, want string }{
		{"lobby\x00alice", "p2pstreams.lobby.alice"},
		{"a.b\x00*", "p2pstreams.a%2Eb.%2A"},
		{"sälle 1\x00>", "p2pstreams.s%C3%A4lle%201.%3E"},
		{"100%\x00", "p2pstreams.100%25.%"},
		{"plain", "p2pstreams.plain"},
	} {
		if got := subject("p2pstreams", c.topic); got != c.want {
			t.Errorf("subject(%q) = %q, want %q", c.topic, got, c.want)
		}
	}
}

// FuzzSubject checks that every topic gets a valid NATS subject with no
// wildcard and no empty token, and that two topics never share one.
func FuzzSubject(f *testing.F) {
	f.Add("lobby\x00alice", "lobby\x00bob")
	f.Add("a.b\x00c", "a\x00b.c")
	f.Add("%41", "A")
	f.Add("\x00", "")
	f.Fuzz(func(t *testing.T, a, b string) {
		sa, sb := subject("p", a), subject("p", b)
		if a != b && sa == sb {
			t.Fatalf("topics %q and %q share subject %q", a, b, sa)
		}
		for _, tok := range strings.Split(sa, ".") {
			if tok == "" || tok == "*" || tok == ">" {
				t.Fatalf("subject %q of %q has token %q", sa, a, tok)
			}
		}
		if strings.IndexFunc(sa, func(r rune) bool { return unicode.IsSpace(r) || r > unicode.MaxASCII || r < ' ' }) >= 0 {
			t.Fatalf("subject %q of %q holds white space, control or non-ASCII characters", sa, a)
		}
	})
}
