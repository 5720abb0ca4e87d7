package protocol

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestFrameConfigJSON(t *testing.T) {
	for _, tc := range []struct {
		cfg  FrameConfig
		want string
	}{
		{FrameConfig{}, `{}`},
		{FrameConfig{ManualFailover: true}, `{"manualFailover":true}`},
		{FrameConfig{Heartbeat: Heartbeat{Interval: 100 * time.Millisecond, IdleTimeout: 200 * time.Millisecond}},
			`{"heartbeat":{"interval_mls":100,"idle_timeout_mls":200}}`},
		{FrameConfig{ICEServers: []ICEServer{{URLs: []string{"stun:127.0.0.1:3478"}}}, KeepCableConnection: true},
			`{"ice_servers":[{"urls":["stun:127.0.0.1:3478"]}],"keepCableConnection":true}`},
	} {
		b, err := json.Marshal(tc.cfg)
		if err != nil || string(b) != tc.want {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tc.cfg, b, err, tc.want)
		}
		var back FrameConfig
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		if b2, _ := json.Marshal(back); string(b2) != tc.want {
			t.Errorf("round trip of %s gave %s", tc.want, b2)
		}
	}
	var c FrameConfig
	if err := json.Unmarshal([]byte(`{"autoFailover":true}`), &c); err != nil || c.ManualFailover {
		t.Errorf(`autoFailover:true read as ManualFailover=%v (%v)`, c.ManualFailover, err)
	}
}

func TestFrameConfigAliasAndDefaults(t *testing.T) {
	c, err := ParseFrameConfig(json.RawMessage(`{"autoFailover":false,"heartbeat":{"interval_mls":3000}}`))
	if err != nil || !c.ManualFailover {
		t.Errorf("the old autoFailover:false is manualFailover:true: got %+v, %v", c, err)
	}
	if c.Heartbeat.Interval != 3*time.Second || c.Heartbeat.IdleTimeout != 6*time.Second || c.MaxMessageSize != DefaultMaxMessageSize {
		t.Errorf("normalized %+v: want interval 3s, idle 6s (two intervals), default max message size", c)
	}
	if c, _ := ParseFrameConfig(nil); c.Heartbeat.Interval != DefaultHeartbeatInterval || c.ManualFailover {
		t.Errorf("no config: %+v", c)
	}
	if c, _ := ParseFrameConfig(json.RawMessage(`{"maxMessageSize":1000000000}`)); c.MaxMessageSize != MaxMaxMessageSize {
		t.Errorf("maxMessageSize is bounded: %d", c.MaxMessageSize)
	}
	if c, _ := ParseFrameConfig(nil); c.ConnectTimeoutMls != NegotiationTimeout.Milliseconds() {
		t.Errorf("connect_timeout_mls defaults to %d", c.ConnectTimeoutMls)
	}
	if c, _ := ParseFrameConfig(json.RawMessage(`{"connect_timeout_mls":2500}`)); c.ConnectTimeoutMls != 2500 {
		t.Errorf("connect_timeout_mls read as %d", c.ConnectTimeoutMls)
	}
	if c, _ := ParseFrameConfig(nil); c.HealTimeoutMls != HealTimeout.Milliseconds() {
		t.Errorf("heal_timeout_mls defaults to %d", c.HealTimeoutMls)
	}
	if c, _ := ParseFrameConfig(json.RawMessage(`{"heal_timeout_mls":3000}`)); c.HealTimeoutMls != 3000 {
		t.Errorf("heal_timeout_mls read as %d", c.HealTimeoutMls)
	}
}

func TestBackoff(t *testing.T) {
	for n, want := range []time.Duration{200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond} {
		if got := Backoff(n, 0.5); got != want {
			t.Errorf("Backoff(%d, 0.5) = %v, want %v", n, got, want)
		}
	}
	if got := Backoff(40, 0); got != BackoffMax/2 {
		t.Errorf("Backoff(40, 0) = %v, want %v", got, BackoffMax/2)
	}
}

func TestCodeClass(t *testing.T) {
	for c, want := range map[Code]Class{CodeBadToken: ClassFatal, CodeSessionFull: ClassFatal, CodePeerConnected: ClassRetry,
		CodeUnavailable: ClassRetry, CodePeerNotFound: ClassInfo, Code("new_one"): ClassInfo} {
		if c.Class() != want {
			t.Errorf("%s.Class() = %s, want %s", c, c.Class(), want)
		}
	}
	err := fmt.Errorf("join: %w", &CodeError{Code: CodeSessionFull, Text: "full"})
	if CodeOf(err) != CodeSessionFull || !errors.Is(err, &CodeError{Code: CodeSessionFull}) || errors.Is(err, &CodeError{Code: CodeBadToken}) {
		t.Errorf("CodeOf / errors.Is on %v", err)
	}
}

func TestFrameConfigMedia(t *testing.T) {
	c, _ := ParseFrameConfig(nil)
	if c.MaxBitrate != 0 || c.ScaleResolutionDownBy != 1 || !c.MayShare() {
		t.Errorf("defaults: maxBitrate %d, scaleResolutionDownBy %v, clients may share %v; want 0, 1, true", c.MaxBitrate, c.ScaleResolutionDownBy, c.MayShare())
	}
	c, _ = ParseFrameConfig(json.RawMessage(`{"maxBitrate":250000,"scaleResolutionDownBy":2,"clientsMayShare":false}`))
	if c.MaxBitrate != 250000 || c.ScaleResolutionDownBy != 2 || c.MayShare() {
		t.Errorf("read %d, %v, %v", c.MaxBitrate, c.ScaleResolutionDownBy, c.MayShare())
	}
	c, _ = ParseFrameConfig(json.RawMessage(`{"maxBitrate":-5,"scaleResolutionDownBy":0.5}`))
	if c.MaxBitrate != 0 || c.ScaleResolutionDownBy != 1 {
		t.Errorf("out of bounds normalized to %d, %v; want 0, 1", c.MaxBitrate, c.ScaleResolutionDownBy)
	}
	c, _ = ParseFrameConfig(json.RawMessage(`{"maxBitrate":1000000000000,"scaleResolutionDownBy":1000}`))
	if c.MaxBitrate != MaxMaxBitrate || c.ScaleResolutionDownBy != MaxScaleResolutionDownBy {
		t.Errorf("too large normalized to %d, %v", c.MaxBitrate, c.ScaleResolutionDownBy)
	}
	for _, bad := range []FrameConfig{{MaxBitrate: -1}, {MaxBitrate: MaxMaxBitrate + 1}, {ScaleResolutionDownBy: 0.5}, {ScaleResolutionDownBy: 17}} {
		if bad.Validate() == nil {
			t.Errorf("Validate(%+v) = nil, want an error", bad)
		}
	}
	for _, ok := range []FrameConfig{{}, {MaxBitrate: 300_000, ScaleResolutionDownBy: 4}} {
		if err := ok.Validate(); err != nil {
			t.Errorf("Validate(%+v) = %v", ok, err)
		}
	}
}
