package protocol

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

func TestDecodeClient(t *testing.T) {
	cases := []struct {
		in   string
		code Code // "" means accepted
	}{
		{`{"type":"Connection","state":"SessionJoin","token":"t"}`, ""},
		{` {"type":"Connection","state":"SdpOffer","to":"b","data":{"sdp":"x"}} `, ""},
		{`{"type":"Connection","state":"IceCandidate","to":"b","data":{}}`, ""},
		{`{"type":"Connection","state":"SessionLeave"}`, ""},
		{`{"type":"Connection","state":"PeerLeft","peerId":"b"}`, ""},
		{`{"type":"Connection","state":"PeerStates","data":{"a":"connected","b":"negotiating"}}`, ""},
		{`{"type":"Connection","state":"PeerStates","data":{}}`, ""},
		{`{"type":"Connection","state":"HostUnreachable","hostPeerId":"h"}`, ""},
		{`{"type":"Connection","state":"HostAlive"}`, ""},
		{`{"type":"Connection","state":"HostCheck","token":"t","hostPeerId":"h"}`, ""},
		{`{"type":"Connection","state":"SessionLeave","extra":1}`, ""},
		{``, CodeBadMessage},
		{`null`, CodeBadMessage},
		{`"str"`, CodeBadMessage},
		{`{"type":"Connection","state":"SessionJoin"`, CodeBadMessage},
		{`{"type":"Connection","state":"SessionJoin","token":""}`, CodeBadMessage},
		{`{"type":"Connection","state":7}`, CodeBadMessage},
		{`{"type":"Data","state":"SessionJoin","token":"t"}`, CodeUnknownState},
		{`{"state":"SessionJoin","token":"t"}`, CodeUnknownState},
		{`{"type":"Connection","state":"SessionReady"}`, CodeUnknownState},
		{`{"type":"Connection","state":"HostLeft"}`, CodeUnknownState},
		{`{"type":"Connection","state":"SdpOffer","data":{}}`, CodeBadMessage},
		{`{"type":"Connection","state":"SdpOffer","to":"b"}`, CodeBadMessage},
		{`{"type":"Connection","state":"SdpOffer","to":"b","data":"x"}`, CodeBadMessage},
		{`{"type":"Connection","state":"SdpOffer","to":"b\n","data":{}}`, CodeBadMessage},
		{`{"type":"Connection","state":"SdpOffer","to":"b","from":"c","data":{}}`, CodeBadMessage},
		{`{"type":"Connection","state":"SdpOffer","to":"b","from":"","data":{}}`, CodeBadMessage},
		{`{"type":"Connection","state":"SdpOffer","to":"b","from":null,"data":{}}`, CodeBadMessage},
		{`{"type":"Connection","state":"SessionLeave","from":{}}`, CodeBadMessage},
		{`{"type":"Connection","state":"PeerLeft"}`, CodeBadMessage},
		{`{"type":"Connection","state":"PeerStates"}`, CodeBadMessage},
		{`{"type":"Connection","state":"PeerStates","data":{"a":"happy"}}`, CodeBadMessage},
		{`{"type":"Connection","state":"PeerStates","data":{"":"connected"}}`, CodeBadMessage},
		{`{"type":"Connection","state":"PeerStates","data":{"a":1}}`, CodeBadMessage},
		{`{"type":"Connection","state":"PeerStates","data":[]}`, CodeBadMessage},
		{`{"type":"Connection","state":"HostUnreachable"}`, CodeBadMessage},
		{`{"type":"Connection","state":"HostUnreachable","hostPeerId":"h\u0000"}`, CodeBadMessage},
		{`{"type":"Connection","state":"HostProbe"}`, CodeUnknownState},
		{`{"type":"Connection","state":"HostCheck","hostPeerId":"h"}`, CodeBadMessage},
		{`{"type":"Connection","state":"HostCheck","token":"t"}`, CodeBadMessage},
		{`{"type":"Connection","state":"HostCheck","token":"t","hostPeerId":"h\u0000"}`, CodeBadMessage},
	}
	for _, c := range cases {
		_, err := DecodeClient([]byte(c.in))
		if got := CodeOf(err); got != c.code {
			t.Errorf("DecodeClient(%s) = %v, want code %q", c.in, err, c.code)
		}
	}
}

func TestCheckID(t *testing.T) {
	for _, ok := range []string{"a", "Zoë", "user 42", "😀", strings.Repeat("x", MaxIDLength)} {
		if err := CheckID(ok); err != nil {
			t.Errorf("CheckID(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "a\x00b", "a\tb", "\u0085", "\xff", strings.Repeat("x", MaxIDLength+1)} {
		if err := CheckID(bad); err == nil {
			t.Errorf("CheckID(%q) = nil", bad)
		}
	}
}

func TestAppendRouted(t *testing.T) {
	out := AppendRouted(nil, SdpAnswer, Quote(`al"ice<`), "bob", []byte(`{"sdp":"x"}`))
	var m Message
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if m.Type != Type || m.State != SdpAnswer || m.From != `al"ice<` || m.To != "bob" || string(m.Data) != `{"sdp":"x"}` {
		t.Fatalf("%+v", m)
	}
}

// FuzzDecodeClient: the decoder never panics, and what it accepts is
// forwarded as valid JSON that decodes to the same fields.
func FuzzDecodeClient(f *testing.F) {
	for _, s := range []string{
		`{"type":"Connection","state":"SessionJoin","token":"t"}`,
		`{"type":"Connection","state":"SdpOffer","to":"b","data":{"sdp":"v=0"}}`,
		`{"type":"Connection","state":"IceCandidate","to":"b","data":{"candidate":"c","sdpMid":"0"}}`,
		`{"type":"Connection","state":"PeerLeft","peerId":"b"}`,
		`{"type":"Connection","state":"SessionLeave"}`,
		`{"type":"Connection","state":"HostUnreachable","hostPeerId":"h"}`,
		`{"type":"Connection","state":"HostAlive"}`,
		`{"type":"Connection","state":"HostCheck","token":"t","hostPeerId":"h"}`,
		`{"type":"Connection","state":"PeerStates","data":{"a":"connected","b":"closed"}}`,
		`{"type":"Connection","state":"SdpOffer","to":"\u00e9","data":{"a":[1,{"b":null}]}}`,
		`[]`, `{`, "\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeClient(b)
		if err != nil {
			if CodeOf(err) == "" {
				t.Fatalf("error without a code: %v", err)
			}
			return
		}
		if !m.State.Routed() {
			return
		}
		out := AppendRouted(nil, m.State, Quote("sender"), m.To, m.Data)
		var back Message
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("forwarded invalid JSON %q: %v", out, err)
		}
		if back.From != "sender" || back.To != m.To || back.State != m.State {
			t.Fatalf("forwarded %+v from %+v", back, m)
		}
	})
}

// FuzzDecodeRouted: whenever DecodeClient's fast path takes a message, it
// reads what encoding/json reads.
func FuzzDecodeRouted(f *testing.F) {
	for _, s := range []string{
		`{"type":"Connection","state":"SdpOffer","to":"b","data":{"sdp":"v=0"}}`,
		` { "data" : {"a":"}\"]"} , "to":"b","state":"IceCandidate","type":"Connection" } `,
		`{"type":"Connection","state":"SdpAnswer","to":"b","data":null}`,
		`{"type":"Connection","state":"SdpAnswer","to":"b","data":12}`,
		`{"type":"Connection","state":"SdpAnswer","to":"b","data":"x"}`,
		`{"type":"Connection","state":"SdpAnswer","to":"b","data":[1,{"x":[]}]}`,
		`{"type":"Connection","state":"SdpAnswer","to":"b","to":"c","data":{}}`,
		`{"type":"X","state":"SdpOffer","to":"b","data":{}}`,
		`{"Type":"Connection","state":"SdpOffer","to":"b","data":{}}`,
		"{\"type\":\"Connection\",\"state\":\"SdpOffer\",\"to\":\"\xff\",\"data\":{}}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		b = bytes.TrimSpace(b)
		if len(b) == 0 || b[0] != '{' {
			return
		}
		m, ok := decodeRouted(b)
		if !ok {
			return
		}
		var want Message
		if err := json.Unmarshal(b, &want); err != nil {
			t.Fatalf("fast path took %q, which encoding/json refuses: %v", b, err)
		}
		if !reflect.DeepEqual(*m, want) {
			t.Fatalf("fast path read %q as %+v, encoding/json as %+v", b, *m, want)
		}
	})
}
