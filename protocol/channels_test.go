package protocol

import (
	"strings"
	"testing"
)

func TestChannelSpecValidate(t *testing.T) {
	no, zero, one, neg, big, max := false, 0, 1, -1, ChannelMaxOption+1, ChannelMaxOption
	for _, tc := range []struct {
		s  ChannelSpec
		ok bool
	}{
		{ChannelSpec{Name: "game"}, true},
		{ChannelSpec{Name: "state", Ordered: &no, MaxRetransmits: &zero}, true},
		{ChannelSpec{Name: "a.b-c_D9", MaxPacketLifeTime: &max}, true},
		{ChannelSpec{Name: strings.Repeat("a", ChannelNameMax)}, true},
		{ChannelSpec{Name: ""}, false},
		{ChannelSpec{Name: DataChannelLabel}, false},
		{ChannelSpec{Name: strings.Repeat("a", ChannelNameMax+1)}, false},
		{ChannelSpec{Name: "two words"}, false},
		{ChannelSpec{Name: "ünï"}, false},
		{ChannelSpec{Name: "x\x00"}, false},
		{ChannelSpec{Name: "x", MaxRetransmits: &one, MaxPacketLifeTime: &one}, false},
		{ChannelSpec{Name: "x", MaxRetransmits: &neg}, false},
		{ChannelSpec{Name: "x", MaxPacketLifeTime: &big}, false},
	} {
		err := tc.s.Validate()
		if tc.ok != (err == nil) || !tc.ok && CodeOf(err) != CodeBadChannel {
			t.Errorf("%+v: %v, want ok=%v (else bad_channel)", tc.s, err, tc.ok)
		}
	}
}

func TestChannelSpecEqualAndReliable(t *testing.T) {
	yes, no, zero, zero2 := true, false, 0, 0
	a := ChannelSpec{Name: "s", Ordered: &no, MaxRetransmits: &zero}
	if !a.Equal(ChannelSpec{Name: "s", Ordered: &no, MaxRetransmits: &zero2}) {
		t.Error("equal options compare unequal")
	}
	if !(ChannelSpec{Name: "e"}).Equal(ChannelSpec{Name: "e", Ordered: &yes}) {
		t.Error("an unset ordered is not true")
	}
	if a.Equal(ChannelSpec{Name: "s", Ordered: &no}) || a.Reliable() || (ChannelSpec{Name: "s", Ordered: &no}).Reliable() {
		t.Error("a lossy or unordered channel taken for reliable or equal")
	}
	if !(ChannelSpec{Name: "e", Ordered: &yes}).Reliable() {
		t.Error("an ordered channel without lossy options is reliable")
	}
}
