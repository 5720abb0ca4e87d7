package p2pnats

import "strings"

// subject maps a broker topic to a NATS subject: prefix, then one token per
// NUL-separated part of the topic (p2pstreams.PeerTopic makes session and
// peer two tokens, so "p2pstreams.lobby.alice"). Tokens keep ASCII letters,
// digits, '-' and '_' and escape every other byte as %XX, so no token holds
// a '.', a wildcard ('*', '>') or white space, and no two topics share a
// subject. An empty part is the token "%".
func subject(prefix, topic string) string {
	var b strings.Builder
	b.Grow(len(prefix) + 1 + len(topic)*3)
	b.WriteString(prefix)
	for part := range strings.SplitSeq(topic, "\x00") {
		b.WriteByte('.')
		if part == "" {
			b.WriteByte('%')
			continue
		}
		for i := 0; i < len(part); i++ {
			c := part[i]
			if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' {
				b.WriteByte(c)
				continue
			}
			const hex = "0123456789ABCDEF"
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}
