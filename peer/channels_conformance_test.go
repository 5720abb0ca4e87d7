package peer_test

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Named channels (the conformance table's "named channels"): an ordered
// channel the host opens and a lossy, unordered one a client opens both
// reach every link, late joiners' and a new host's too; every message on
// one reaches every peer with its sender and the channel's name; bad names
// and options are refused with bad_channel; a message on a channel the
// host never opened is reported (unknown_channel), not relayed.
func confNamedChannels(c *confRun) {
	h, cs := c.hostAndClients(1, opts{noHandOff: true}) // the lines are what arrived, nothing restored
	c1 := cs[0]
	events := protocol.ChannelSpec{Name: "events"}
	no, zero := false, 0
	state := protocol.ChannelSpec{Name: "state", Ordered: &no, MaxRetransmits: &zero}
	must(c.t, h.OpenChannel(events))
	// Opened by the host alone, never by another app: a new host has it
	// from the old one.
	life := 500
	must(c.t, h.OpenChannel(protocol.ChannelSpec{Name: "host.only", MaxPacketLifeTime: &life}))
	must(c.t, c1.OpenChannel(state))
	must(c.t, c1.OpenChannel(events)) // the same options again: fine

	// A late joiner gets both channels without opening them: c1's lossy
	// messages reach it.
	late := c.join(c.kind, "late", opts{noHandOff: true})
	c.allConnected(h, c1, late)
	room := []member{h, c1, late}
	c.lossy(c1, "state", "s-c1", room...)
	must(c.t, late.OpenChannel(events))
	must(c.t, late.OpenChannel(state)) // the options it learned: the same
	c.lossy(late, "state", "s-late", room...)
	must(c.t, h.OpenChannel(state))
	c.lossy(h, "state", "s-h", room...)

	// Ordered and reliable: each message once, in the host's order.
	var want []string
	for _, m := range room {
		must(c.t, m.SendOn("events", "e-"+m.ID()))
		want = append(want, "#events "+m.ID()+": e-"+m.ID())
	}
	// A reliable channel takes messages of any size, in chunks.
	big := strings.Repeat("chunked ", 100<<10/8)
	for _, m := range []member{h, c1} {
		must(c.t, m.SendOn("events", big))
		want = append(want, "#events "+line(m.ID(), big, nil, false))
	}
	c.sameChannel("events", want, room...)

	// Bad names and options are refused at once, with bad_channel.
	for _, m := range room {
		for _, s := range badChannels() {
			if err := m.OpenChannel(s); protocol.CodeOf(err) != protocol.CodeBadChannel {
				c.t.Errorf("%s: OpenChannel(%+v): %v, want bad_channel", m.ID(), s, err)
			}
		}
		// One chunk at most on a lossy channel.
		if err := m.SendOn("state", strings.Repeat("x", protocol.ChunkSize)); protocol.CodeOf(err) != protocol.CodeTooLarge {
			c.t.Errorf("%s: 16 KiB on a lossy channel: %v, want message_too_large", m.ID(), err)
		}
	}

	// A channel the host did not open: reported at the host and to the
	// sender, given to no one.
	late.Rogue("rogue", "unseen")
	c.wait("the host reports the unknown channel", func() bool { return slices.Contains(h.Errors(), string(protocol.CodeUnknownChannel)) })
	c.wait("the sender hears of it", func() bool { return slices.Contains(late.Errors(), string(protocol.CodeUnknownChannel)) })

	// The host goes: the new host has both channels on every link, and so
	// does a peer that joins it.
	h.Go()
	c.wait("a new host", func() bool { return c1.IsHost() || late.IsHost() })
	c.allConnected(c1, late)
	late2 := c.join(c.kind, "late2", opts{noHandOff: true})
	room = []member{c1, late, late2}
	c.allConnected(room...)
	c.lossy(c1, "state", "s-c1-after", room...)
	c.wait("late2 has the old host's own channel", func() bool { return late2.Knows("host.only") })
	must(c.t, late.SendOn("events", "after"))
	for _, m := range room {
		c.wait(m.ID()+" gets the message after the host change", func() bool { return slices.Contains(m.Lines(), "#events late: after") })
	}
	for _, m := range room {
		for _, l := range m.Lines() {
			if strings.Contains(l, "rogue") || strings.Contains(l, "unseen") {
				c.t.Errorf("%s got %q from a channel its host never opened", m.ID(), l)
			}
		}
	}
}

// badChannels are the specs OpenChannel refuses.
func badChannels() []protocol.ChannelSpec {
	no, one, neg, big := false, 1, -1, 70000
	return []protocol.ChannelSpec{
		{Name: protocol.DataChannelLabel},
		{Name: ""},
		{Name: strings.Repeat("a", protocol.ChannelNameMax+1)},
		{Name: "bad name!"},
		{Name: "ünï"},
		{Name: "x", Ordered: &no, MaxRetransmits: &one, MaxPacketLifeTime: &one},
		{Name: "x", MaxRetransmits: &neg},
		{Name: "x", MaxPacketLifeTime: &big},
		{Name: "events", Ordered: &no}, // open already, with other options
	}
}

// lossy sends text on a lossy channel from m until every member has it
// (a message may be lost), then checks that each line on the channel came
// from a sender on it, with the channel's name.
func (c *confRun) lossy(from member, channel, text string, ms ...member) {
	c.t.Helper()
	line := "#" + channel + " " + from.ID() + ": " + text
	deadline := time.Now().Add(30 * time.Second)
	for _, m := range ms {
		for !slices.Contains(m.Lines(), line) {
			if time.Now().After(deadline) {
				c.t.Fatalf("%s never got %q (lines %q)", m.ID(), line, m.Lines())
			}
			must(c.t, from.SendOn(channel, text))
			time.Sleep(200 * time.Millisecond) // the next try; bounded by deadline
		}
	}
	for _, m := range ms {
		for _, l := range m.Lines() {
			rest, ok := strings.CutPrefix(l, "#"+channel+" ")
			if id, text, _ := strings.Cut(rest, ": "); ok && !strings.HasPrefix(text, "s-"+id) {
				c.t.Errorf("%s: %q: the senderId is not the sender's", m.ID(), l)
			}
		}
	}
}

// sameChannel waits until every member has len(want) lines on channel, then
// checks that they are want's (each once) in one order, the host's.
func (c *confRun) sameChannel(channel string, want []string, ms ...member) {
	c.t.Helper()
	on := func(m member) []string {
		var out []string
		for _, l := range m.Lines() {
			if strings.HasPrefix(l, "#"+channel+" ") {
				out = append(out, l)
			}
		}
		return out
	}
	for _, m := range ms {
		c.wait(fmt.Sprintf("%s gets %d messages on %s", m.ID(), len(want), channel), func() bool { return len(on(m)) >= len(want) })
	}
	first := on(ms[0])
	for _, m := range ms {
		got := on(m)
		if !slices.Equal(sorted(got), sorted(want)) || !slices.Equal(got, first) {
			c.t.Errorf("%s has %q on %s, want %q in one order (%q)", m.ID(), got, channel, want, first)
		}
	}
}
