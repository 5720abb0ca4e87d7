package protocol

import (
	"fmt"
	"math"
	"regexp"
)

// Named channels (PROTOCOL.md, "Named channels"): DataChannels the app
// opens by name next to the default one (DataChannelLabel), each with its
// own delivery options, relayed by the host like the default channel.

// MsgChannel is a client's declaration of a named channel, to its host over
// the default channel: data {"name", "ordered", "maxRetransmits",
// "maxPacketLifeTime"}. The host opens the channel on every link.
const MsgChannel = "Negotiation.Channel"

// ChannelNameMax is the longest channel name, in bytes.
const ChannelNameMax = 64

// ChannelNamePattern is what a channel name is made of (the browser
// client's copy is generated, CHANNEL_NAME_PATTERN).
const ChannelNamePattern = `^[A-Za-z0-9._-]+$`

var channelName = regexp.MustCompile(ChannelNamePattern)

// ChannelMaxOption bounds maxRetransmits and maxPacketLifeTime: browsers
// and pion take them as unsigned 16-bit numbers.
const ChannelMaxOption = math.MaxUint16

// ChannelSpec is one named channel: its name and delivery options, as the
// app gives them and as Negotiation.Channel carries them. Ordered nil means
// ordered; MaxRetransmits and MaxPacketLifeTime (milliseconds), at most one
// of them set, make it lossy.
type ChannelSpec struct {
	Name              string `json:"name"`
	Ordered           *bool  `json:"ordered,omitempty"`
	MaxRetransmits    *int   `json:"maxRetransmits,omitempty"`
	MaxPacketLifeTime *int   `json:"maxPacketLifeTime,omitempty"`
}

// Reliable reports whether every message arrives, in order: such a
// channel takes messages of any size (in chunks); others take one chunk.
func (s ChannelSpec) Reliable() bool {
	return (s.Ordered == nil || *s.Ordered) && s.MaxRetransmits == nil && s.MaxPacketLifeTime == nil
}

// Validate refuses a reserved or malformed name or an invalid option with
// a *CodeError (bad_channel).
func (s ChannelSpec) Validate() error {
	bad := func(format string, args ...any) error {
		return &CodeError{Code: CodeBadChannel, Text: fmt.Sprintf(format, args...)}
	}
	if err := ValidChannelName(s.Name); err != nil {
		return err
	}
	if s.MaxRetransmits != nil && s.MaxPacketLifeTime != nil {
		return bad("channel %q: maxRetransmits and maxPacketLifeTime cannot both be set", s.Name)
	}
	for _, o := range []struct {
		name string
		v    *int
	}{{"maxRetransmits", s.MaxRetransmits}, {"maxPacketLifeTime", s.MaxPacketLifeTime}} {
		if o.v != nil && (*o.v < 0 || *o.v > ChannelMaxOption) {
			return bad("channel %q: %s %d is out of range 0-%d", s.Name, o.name, *o.v, ChannelMaxOption)
		}
	}
	return nil
}

// ValidChannelName checks a channel name: 1-ChannelNameMax bytes of ASCII
// letters, digits, '-', '_' and '.', and not the default channel's label.
func ValidChannelName(name string) error {
	bad := func(why string) error {
		return &CodeError{Code: CodeBadChannel, Text: fmt.Sprintf("channel name %q: %s", name, why)}
	}
	switch {
	case name == "":
		return bad("empty")
	case len(name) > ChannelNameMax:
		return bad(fmt.Sprintf("longer than %d bytes", ChannelNameMax))
	case name == DataChannelLabel:
		return bad("reserved for the default channel")
	}
	if !channelName.MatchString(name) {
		return bad("only letters, digits, '-', '_' and '.'")
	}
	return nil
}

// Equal reports whether s and o are the same channel with the same
// options (an unset Ordered is true).
func (s ChannelSpec) Equal(o ChannelSpec) bool {
	eq := func(a, b *int) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }
	ordered := func(b *bool) bool { return b == nil || *b }
	return s.Name == o.Name && ordered(s.Ordered) == ordered(o.Ordered) && eq(s.MaxRetransmits, o.MaxRetransmits) && eq(s.MaxPacketLifeTime, o.MaxPacketLifeTime)
}
