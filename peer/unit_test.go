package peer

import (
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

func TestStateNames(t *testing.T) {
	want := []string{"new", "negotiating", "connecting", "connected", "disconnected", "closed", "failed"}
	for i, name := range want {
		s := State(i)
		if s.String() != name {
			t.Errorf("State(%d).String() = %q, want %q", i, s.String(), name)
		}
		got, err := ParseState(name)
		if err != nil || got != s {
			t.Errorf("ParseState(%q) = %v, %v", name, got, err)
		}
		b, err := s.MarshalText()
		if err != nil || string(b) != name {
			t.Errorf("MarshalText(%v) = %q, %v", s, b, err)
		}
		if s.Final() != (name == "closed" || name == "failed") {
			t.Errorf("%v.Final() = %v", s, s.Final())
		}
	}
	if _, err := ParseState("Connected"); err == nil {
		t.Error("ParseState is case-sensitive: the wire names are lower case")
	}
	if _, err := State(200).MarshalText(); err == nil || State(200).String() != "State(200)" {
		t.Error("an invalid State must not marshal")
	}
}

func TestTransitions(t *testing.T) {
	N, G, C, K, D, X, F := StateNew, StateNegotiating, StateConnecting, StateConnected, StateDisconnected, StateClosed, StateFailed
	for _, c := range []struct {
		from, to State
		ok       bool
	}{
		{N, G, true}, {N, K, false}, {N, D, false}, {N, X, true}, {N, F, true},
		{G, C, true}, {G, K, true}, {G, D, true}, {G, N, false},
		{C, K, true}, {C, G, false}, {C, D, true},
		{K, D, true}, {K, G, true}, {K, C, false}, {K, X, true},
		{D, G, true}, {D, K, false}, {D, C, false}, {D, F, true},
		{X, G, false}, {X, F, false}, {F, G, false}, {F, X, false},
	} {
		if got := c.from.canBecome(c.to); got != c.ok {
			t.Errorf("%v -> %v: %v, want %v", c.from, c.to, got, c.ok)
		}
	}
}

func TestWireMessages(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{encodeData(json.RawMessage(`"hi"`)), `{"type":"Data","data":"hi"}`},
		{encodeRelay("al\"ice", json.RawMessage(`{"a":1}`)), `{"type":"Data","senderId":"al\"ice","data":{"a":1}}`},
		{encodeStates(map[protocol.PeerID]State{"h": StateConnected, "b": StateDisconnected}),
			`{"type":"Data.Connection.State","data":{"b":"disconnected","h":"connected"}}`},
		{heartbeatMsg, `{"type":"Heartbeat"}`},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
		if !json.Valid([]byte(c.got)) {
			t.Errorf("%s is not JSON", c.got)
		}
	}
	w, err := decodeWire([]byte(`{"type":"Data"}`))
	if err != nil || w.Type != typeData || string(w.Data) != "null" {
		t.Errorf("Data without data: %+v, %v", w, err)
	}
	m, err := decodeStates(json.RawMessage(`{"a":"connected","b":"dancing"}`))
	if err != nil || len(m) != 1 || m["a"] != StateConnected {
		t.Errorf("decodeStates skips unknown states: %v, %v", m, err)
	}
	if _, _, err := marshalData(json.RawMessage(`{bad`)); err == nil {
		t.Error("invalid RawMessage accepted")
	}
	if raw, bin, err := marshalData("x"); err != nil || string(raw) != `"x"` || bin != nil {
		t.Errorf("marshalData(\"x\") = %s, %v, %v", raw, bin, err)
	}
	if raw, bin, err := marshalData([]byte{1, 2}); err != nil || raw != nil || string(bin) != "\x01\x02" {
		t.Errorf("marshalData([]byte) = %s, %v, %v: want binary", raw, bin, err)
	}
	if (Message{Data: json.RawMessage(`"a\nb"`)}).Text() != "a\nb" || (Message{Data: json.RawMessage(`[1]`)}).Text() != "[1]" {
		t.Error("Message.Text")
	}
}

// Config wins over the token's frame config, which wins over the defaults.
func TestSettings(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	for _, c := range []struct {
		name     string
		cfg      Config
		frame    string
		interval time.Duration
		idle     time.Duration
		keep     bool
		failover bool
		ice      int
	}{
		{"defaults", Config{}, ``, time.Second, 4 * time.Second, false, true, 0},
		{"token", Config{}, `{"heartbeat":{"interval_mls":100,"idle_timeout_mls":300},"keepCableConnection":true,"autoFailover":false,"ice_servers":[{"urls":["stun:127.0.0.1:3478"]}]}`,
			100 * time.Millisecond, 300 * time.Millisecond, true, false, 1},
		{"config wins", Config{Heartbeat: Heartbeat{Interval: 50 * time.Millisecond, IdleTimeout: time.Second}, ICEServers: nilServers()},
			`{"heartbeat":{"interval_mls":100,"idle_timeout_mls":300},"ice_servers":[{"urls":["stun:127.0.0.1:3478"]}]}`,
			50 * time.Millisecond, time.Second, false, true, 0},
		{"ManualFailover", Config{ManualFailover: true}, `{"autoFailover":true}`, time.Second, 4 * time.Second, false, false, 0},
		{"idle at least two intervals", Config{Heartbeat: Heartbeat{Interval: time.Second, IdleTimeout: time.Second}}, ``, time.Second, 2 * time.Second, false, true, 0},
		{"unreadable frame config", Config{}, `[1,2]`, time.Second, 4 * time.Second, false, true, 0},
	} {
		s := c.cfg.settings(json.RawMessage(c.frame), log)
		if s.interval != c.interval || s.idle != c.idle || s.keepSignaling != c.keep || s.failover != c.failover || len(s.iceServers) != c.ice {
			t.Errorf("%s: got %+v", c.name, s)
		}
	}
}

func nilServers() []webrtc.ICEServer { return []webrtc.ICEServer{} }

func TestFailoverBeforeJoin(t *testing.T) {
	// base64url of {"s":"lobby","p":"bob","e":1,"c":{"autoFailover":false}}: the old key
	tok := "eyJzIjoibG9iYnkiLCJwIjoiYm9iIiwiZSI6MSwiYyI6eyJhdXRvRmFpbG92ZXIiOmZhbHNlfX0.sig"
	if (&Config{Token: tok}).failoverBeforeJoin() {
		t.Error("the token's autoFailover: false is read before joining")
	}
	if !(&Config{Token: "garbage"}).failoverBeforeJoin() {
		t.Error("a malformed token means the default, failover on")
	}
}

func TestBackoff(t *testing.T) {
	for n := range 20 {
		base := min(200*time.Millisecond<<min(n, 6), 8*time.Second)
		for range 50 {
			if d := backoff(n); d < base/2 || d >= base*3/2 {
				t.Fatalf("backoff(%d) = %v, want in [%v, %v)", n, d, base/2, base*3/2)
			}
		}
	}
}

// The DataChannel decoders read what other peers send: never panic, and
// what they accept re-encodes to valid JSON.
func FuzzDecodeWire(f *testing.F) {
	f.Add([]byte(`{"type":"Data","senderId":"a","data":"x"}`))
	f.Add([]byte(`{"type":"Data.Connection.State","data":{"a":"connected"}}`))
	f.Add([]byte(`{"type":"Heartbeat"}`))
	f.Add([]byte(`[`))
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := decodeWire(b)
		if err != nil {
			return
		}
		if !json.Valid([]byte(encodeRelay(w.SenderID, w.Data))) {
			t.Fatalf("relay of %q is not JSON", b)
		}
		if m, err := decodeStates(w.Data); err == nil {
			if !json.Valid([]byte(encodeStates(m))) {
				t.Fatalf("states of %q are not JSON", b)
			}
		}
	})
}

func TestStateNamesInOrder(t *testing.T) {
	if len(stateNames) != int(StateFailed)+1 || StateConnected.String() != "connected" || StateFailed.String() != "failed" {
		t.Fatalf("protocol.ConnStates %v does not match the State constants", stateNames)
	}
}
