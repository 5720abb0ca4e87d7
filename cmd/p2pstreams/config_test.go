package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"

	"github.com/p2pstreams/p2pstreams/protocol"
)

const testSecret = "serve-config-secret-0123456789"

// nonDefault is a valid value, other than the default, for every setting,
// and the serveConfig field it must land in.
var nonDefault = map[string]struct {
	value string
	want  func(c *serveConfig) any
	is    any
}{
	"addr":              {"127.0.0.1:0", func(c *serveConfig) any { return c.Addr }, "127.0.0.1:0"},
	"secret":            {testSecret, func(c *serveConfig) any { return c.Secret }, testSecret},
	"redis":             {"redis://:pw@127.0.0.1:1/0", func(c *serveConfig) any { return c.Redis }, "redis://:pw@127.0.0.1:1/0"},
	"rate-limit":        {"-1", func(c *serveConfig) any { return c.RateLimit }, -1.0},
	"rate-burst":        {"7", func(c *serveConfig) any { return c.RateBurst }, 7},
	"max-peers":         {"2", func(c *serveConfig) any { return c.MaxPeers }, 2},
	"max-message-bytes": {"4096", func(c *serveConfig) any { return c.MaxMessageBytes }, 4096},
	"send-queue-bytes":  {"9", func(c *serveConfig) any { return c.SendQueueBytes }, 9},
	"join-timeout":      {"3s", func(c *serveConfig) any { return c.JoinTimeout }, 3 * time.Second},
	"write-timeout":     {"4s", func(c *serveConfig) any { return c.WriteTimeout }, 4 * time.Second},
	"store-timeout":     {"6s", func(c *serveConfig) any { return c.StoreTimeout }, 6 * time.Second},
	"lease":             {"20s", func(c *serveConfig) any { return c.Lease }, 20 * time.Second},
	"probe-timeout":     {"3s", func(c *serveConfig) any { return c.ProbeTimeout }, 3 * time.Second},
	"ping-interval":     {"-1s", func(c *serveConfig) any { return c.PingInterval }, -time.Second},
	"allowed-origins":   {"https://a.example, https://b.example", func(c *serveConfig) any { return c.AllowedOrigins }, []string{"https://a.example", "https://b.example"}},
	"log-level":         {"debug", func(c *serveConfig) any { return c.LogLevel }, "debug"},
	"log-format":        {"json", func(c *serveConfig) any { return c.LogFormat }, "json"},
	"metrics":           {"false", func(c *serveConfig) any { return c.Metrics }, false},
	"metrics-addr":      {"127.0.0.1:0", func(c *serveConfig) any { return c.MetricsAddr }, "127.0.0.1:0"},
	"max-conns":         {"1000", func(c *serveConfig) any { return c.MaxConns }, 1000},
	"max-conns-per-ip":  {"20", func(c *serveConfig) any { return c.MaxConnsPerIP }, 20},
	"trusted-proxies":   {"10.0.0.0/8, 192.0.2.1", func(c *serveConfig) any { return c.TrustedProxies }, []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.1/32")}},
	"admin-secret":      {"admin-secret-0123456789", func(c *serveConfig) any { return c.AdminSecret }, "admin-secret-0123456789"},
	"webhook-url":       {"https://u:pw@hooks.example/p2p", func(c *serveConfig) any { return c.WebhookURL }, "https://u:pw@hooks.example/p2p"},
	"webhook-secret":    {"hook-secret-0123456789", func(c *serveConfig) any { return c.WebhookSecret }, "hook-secret-0123456789"},
	"webhook-queue":     {"5", func(c *serveConfig) any { return c.WebhookQueue }, 5},
	"turn-addr":         {"127.0.0.1:0", func(c *serveConfig) any { return c.TURN.Addr }, "127.0.0.1:0"},
	"turn-public-ip":    {"127.0.0.1", func(c *serveConfig) any { return c.TURN.PublicIP }, "127.0.0.1"},
	"turn-ports":        {"40000-40099", func(c *serveConfig) any { return c.TURN.Ports }, "40000-40099"},
	"turn-realm":        {"example.org", func(c *serveConfig) any { return c.TURN.Realm }, "example.org"},
	"turn-max-per-peer": {"8", func(c *serveConfig) any { return c.TURN.MaxPerPeer }, 8},
	"turn-max":          {"99", func(c *serveConfig) any { return c.TURN.Max }, 99},
	"turn-url":          {"turn:turn.example:3478", func(c *serveConfig) any { return c.TURN.URL }, "turn:turn.example:3478"},
	"turn-secret":       {"turn-secret-0123456789", func(c *serveConfig) any { return c.TURN.Secret }, "turn-secret-0123456789"},
	"turn-ttl":          {"10m0s", func(c *serveConfig) any { return c.TURN.TTL }, 10 * time.Minute},
}

// Every setting (but --config itself) comes from a flag, the environment
// or a config file, lands in its field, and print-config names the source.
func TestConfigEverySourceEverySetting(t *testing.T) {
	c0 := defaultServeConfig()
	for _, s := range c0.settings() {
		if _, ok := nonDefault[s.name]; !ok && s.name != "config" {
			t.Errorf("setting %q has no case in nonDefault", s.name)
		}
	}
	file := filepath.Join(t.TempDir(), "p2pstreams.conf")
	var lines []string
	for name, v := range nonDefault {
		lines = append(lines, name+" = "+v.value+" # a comment")
	}
	os.WriteFile(file, []byte("# settings\n\n"+strings.Join(lines, "\n")+"\n"), 0o600)

	for _, src := range []string{"flag", "env", "file"} {
		t.Run(src, func(t *testing.T) {
			var args []string
			env := map[string]string{}
			switch src {
			case "flag":
				for name, v := range nonDefault {
					args = append(args, "--"+name+"="+v.value)
				}
			case "env":
				for name, v := range nonDefault {
					env[envName(name)] = v.value
				}
			case "file":
				env["P2PSTREAMS_CONFIG"] = file
			}
			c := defaultServeConfig()
			set, err := loadConfig(&c, args, lookup(env), &strings.Builder{})
			if err != nil {
				t.Fatal(err)
			}
			for name, v := range nonDefault {
				if got := v.want(&c); !reflect.DeepEqual(got, v.is) {
					t.Errorf("%s from %s: field is %#v, want %#v", name, src, got, v.is)
				}
			}
			var out strings.Builder
			printConfig(&out, set)
			for name := range nonDefault {
				want := map[string]string{"flag": "# flag", "env": "# env " + envName(name), "file": "# file " + file}[src]
				if line := lineOf(out.String(), name+" ="); !strings.HasSuffix(line, want) {
					t.Errorf("print-config line %q; want it to end with %q", line, want)
				}
			}
			if strings.Contains(out.String(), testSecret) || strings.Contains(out.String(), ":pw@") || strings.Contains(out.String(), "turn-secret-0123") || strings.Contains(out.String(), "hook-secret-0123") || strings.Contains(out.String(), "admin-secret-0123") {
				t.Errorf("print-config shows a secret:\n%s", out.String())
			}
		})
	}
}

func lookup(env map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := env[k]; return v, ok }
}

func lineOf(text, prefix string) string {
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// A flag wins over the environment, which wins over the file.
func TestConfigPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "c")
	os.WriteFile(file, []byte("max-peers 3\nrate-burst 4\nsend-queue-bytes 5\n"), 0o600)
	c := defaultServeConfig()
	env := map[string]string{"P2PSTREAMS_MAX_PEERS": "6", "P2PSTREAMS_RATE_BURST": "7"}
	if _, err := loadConfig(&c, []string{"--config", file, "--max-peers", "8"}, lookup(env), &strings.Builder{}); err != nil {
		t.Fatal(err)
	}
	if c.MaxPeers != 8 || c.RateBurst != 7 || c.SendQueueBytes != 5 {
		t.Errorf("max-peers %d (want the flag's 8), rate-burst %d (the env's 7), send-queue-bytes %d (the file's 5)", c.MaxPeers, c.RateBurst, c.SendQueueBytes)
	}
}

// A malformed value stops serve at start, naming the setting and the reason.
func TestConfigMalformed(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(text), 0o600)
		return p
	}
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want []string
	}{
		{[]string{"--max-peers", "two"}, nil, []string{"max-peers", "not a whole number"}},
		{[]string{"--max-peers", "0"}, nil, []string{"max-peers", "less than 1"}},
		{[]string{"--join-timeout", "10"}, nil, []string{"join-timeout", "not a duration"}},
		{[]string{"--rate-limit", "fast"}, nil, []string{"rate-limit", "not a number"}},
		{[]string{"--log-level", "loud"}, nil, []string{"log-level", "not one of"}},
		{[]string{"--allowed-origins", "example.com"}, nil, []string{"allowed-origins", "not an origin"}},
		{[]string{"--trusted-proxies", "10.0.0.0/33"}, nil, []string{"trusted-proxies", "not an IP address"}},
		{nil, map[string]string{"P2PSTREAMS_SEND_QUEUE_BYTES": "-3"}, []string{"P2PSTREAMS_SEND_QUEUE_BYTES", "--send-queue-bytes", "less than 1"}},
		{nil, map[string]string{"P2PSTREAMS_METRICS": "maybe"}, []string{"P2PSTREAMS_METRICS", "not true or false"}},
		{[]string{"--config", write("a", "write-timeout soon\n")}, nil, []string{"a:1", "write-timeout", "not a duration"}},
		{[]string{"--config", write("b", "# x\nmax-pears 3\n")}, nil, []string{"b:2", "unknown setting", "max-pears"}},
		{[]string{"--config", filepath.Join(dir, "missing")}, nil, []string{"--config", "no such file"}},
	} {
		c := defaultServeConfig()
		var errOut strings.Builder
		_, err := loadConfig(&c, tc.args, lookup(tc.env), &errOut)
		if err == nil {
			t.Errorf("%v %v: no error", tc.args, tc.env)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error()+errOut.String(), w) {
				t.Errorf("%v %v: %v (stderr %q); want it to say %q", tc.args, tc.env, err, errOut.String(), w)
			}
		}
	}
	// And through run: serve ends at once, with the error.
	t.Setenv("P2PSTREAMS_MAX_PEERS", "lots")
	if _, err := serveErr(t); err == nil || !strings.Contains(err.Error(), "P2PSTREAMS_MAX_PEERS") {
		t.Errorf("serve with a bad P2PSTREAMS_MAX_PEERS: %v", err)
	}
}

func TestServePrintConfig(t *testing.T) {
	t.Setenv("P2PSTREAMS_SECRET", testSecret)
	var out, errOut strings.Builder
	if err := run(context.Background(), []string{"serve", "--print-config", "--max-peers", "5"}, &out, &errOut); err != nil {
		t.Fatal(err, errOut.String())
	}
	for _, want := range []string{
		"max-peers = 5", "# flag", "secret = REDACTED", "# env P2PSTREAMS_SECRET", "rate-limit = 100", "# default",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("print-config lacks %q:\n%s", want, out.String())
		}
	}
	if strings.Contains(out.String(), testSecret) {
		t.Errorf("print-config shows the secret")
	}
}

// The limits reach the wire: each setting, from a flag or the environment,
// changes what a peer sees.
func TestServeSettingsOnTheWire(t *testing.T) {
	t.Run("max-peers flag", func(t *testing.T) { thirdJoinFull(t, "--max-peers", "2") })
	t.Run("max-peers env", func(t *testing.T) {
		t.Setenv("P2PSTREAMS_MAX_PEERS", "2")
		thirdJoinFull(t)
	})
	t.Run("rate-limit and rate-burst", func(t *testing.T) {
		t.Setenv("P2PSTREAMS_RATE_BURST", "2")
		base, _ := serve(t, "--secret", testSecret, "--rate-limit", "0.001")
		a := joinAt(t, base, testSecret, "alice") // message 1
		read(t, a)
		ice := `{"type":"Connection","state":"IceCandidate","to":"nobody","data":{}}`
		wsutil.WriteClientText(a, []byte(ice)) // message 2: allowed
		if m := read(t, a); m.Code != protocol.CodePeerNotFound {
			t.Errorf("second message: %+v, want peer_not_found", m)
		}
		wsutil.WriteClientText(a, []byte(ice)) // message 3: over the burst
		if m := read(t, a); m.Code != protocol.CodeRateLimited {
			t.Errorf("third message: %+v, want rate_limited", m)
		}
	})
	t.Run("max-message-bytes", func(t *testing.T) {
		base, _ := serve(t, "--secret", testSecret, "--max-message-bytes", "300")
		a := joinAt(t, base, testSecret, "alice")
		read(t, a)
		wsutil.WriteClientText(a, []byte(`{"type":"Connection","state":"IceCandidate","to":"bob","data":"`+strings.Repeat("x", 400)+`"}`))
		if m := read(t, a); m.Code != protocol.CodeTooLarge {
			t.Errorf("a 400-byte message: %+v, want too_large", m)
		}
	})
	t.Run("join-timeout", func(t *testing.T) {
		base, _ := serve(t, "--secret", testSecret, "--join-timeout", "50ms")
		conn := dialAt(t, base, nil)
		if m := read(t, conn); m.Code != protocol.CodeJoinTimeout {
			t.Errorf("a connection that never joins: %+v, want join_timeout", m)
		}
	})
	t.Run("probe-timeout", func(t *testing.T) {
		base, _ := serve(t, "--secret", testSecret, "--probe-timeout", "150ms")
		host := joinAt(t, base, testSecret, "alice")
		read(t, host)
		client := joinAt(t, base, testSecret, "bob")
		read(t, client)
		read(t, host) // bob joined
		wsutil.WriteClientText(client, []byte(`{"type":"Connection","state":"HostUnreachable","hostPeerId":"alice"}`))
		if m := read(t, host); m.State != protocol.HostProbe {
			t.Fatalf("the host got %+v, want HostProbe", m)
		}
		// Unanswered: the host is closed, and says after how long.
		if m := read(t, host); m.Code != protocol.CodeHostUnresponsive || !strings.Contains(m.Text, "within 150 ms") {
			t.Errorf("the silent host got %+v, want host_unresponsive within 150 ms", m)
		}
	})
	t.Run("ping-interval env", func(t *testing.T) {
		t.Setenv("P2PSTREAMS_PING_INTERVAL", "100ms")
		base, _ := serve(t, "--secret", testSecret, "--join-timeout", "1m")
		conn := dialAt(t, base, nil)
		conn.SetDeadline(time.Now().Add(5 * time.Second)) // the default interval (10s) would not ping in time
		if f, err := ws.ReadFrame(conn); err != nil || f.Header.OpCode != ws.OpPing {
			t.Fatalf("a silent connection got %+v, %v; want a ping", f.Header, err)
		}
		// Unanswered: it is closed as dead.
		for {
			f, err := ws.ReadFrame(conn)
			if errors.Is(err, io.EOF) || err == nil && f.Header.OpCode == ws.OpClose {
				break
			}
			if err != nil {
				t.Fatalf("a connection that answers no ping: %v, want it closed", err)
			}
		}
	})
	t.Run("max-conns-per-ip", func(t *testing.T) {
		base, _ := serve(t, "--secret", testSecret, "--max-conns-per-ip", "1")
		dialAt(t, base, nil)
		_, _, _, err := ws.Dial(context.Background(), "ws"+strings.TrimPrefix(base, "http")+"p2p/")
		var se ws.StatusError
		if !errors.As(err, &se) || int(se) != http.StatusServiceUnavailable {
			t.Errorf("a second connection from one IP: %v, want 503", err)
		}
	})
	t.Run("allowed-origins env", func(t *testing.T) {
		t.Setenv("P2PSTREAMS_ALLOWED_ORIGINS", "https://good.example")
		base, _ := serve(t, "--secret", testSecret)
		dialAt(t, base, http.Header{"Origin": {"https://good.example"}})
		d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(http.Header{"Origin": {"https://evil.example"}})}
		_, _, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(base, "http")+"p2p/")
		var se ws.StatusError
		if !errors.As(err, &se) || int(se) != http.StatusForbidden {
			t.Errorf("another origin: %v, want 403", err)
		}
	})
	t.Run("log-format and log-level", func(t *testing.T) {
		var errOut strings.Builder
		ctx, cancel := context.WithCancel(context.Background())
		cancel() // serve starts, then stops at once: it logs "shutting down" at info
		run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--secret", testSecret, "--log-format", "json"}, &strings.Builder{}, &errOut)
		var rec map[string]any
		if err := json.Unmarshal([]byte(lineOf(errOut.String(), "{")), &rec); err != nil || rec["msg"] == nil {
			t.Errorf("--log-format json logged %q", errOut.String())
		}
		errOut.Reset()
		run(ctx, []string{"serve", "--addr", "127.0.0.1:0", "--secret", testSecret, "--log-level", "warn"}, &strings.Builder{}, &errOut)
		if strings.Contains(errOut.String(), "shutting down") {
			t.Errorf("--log-level warn logged an info line: %q", errOut.String())
		}
	})
}

// thirdJoinFull checks that a serve with args (which set max-peers 2)
// refuses the third peer of a session with session_full.
func thirdJoinFull(t *testing.T, args ...string) {
	base, _ := serve(t, append([]string{"--secret", testSecret}, args...)...)
	for i, p := range []protocol.PeerID{"alice", "bob", "carol"} {
		m := read(t, joinAt(t, base, testSecret, p))
		if i < 2 && m.State != protocol.SessionReady {
			t.Fatalf("%s: %+v, want SessionReady", p, m)
		}
		if i == 2 && m.Code != protocol.CodeSessionFull {
			t.Errorf("the third join: %+v, want session_full", m)
		}
	}
}

func dialAt(t *testing.T, base string, h http.Header) net.Conn {
	t.Helper()
	d := ws.Dialer{Header: ws.HandshakeHeaderHTTP(h)}
	conn, _, _, err := d.Dial(context.Background(), "ws"+strings.TrimPrefix(base, "http")+"p2p/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return conn
}
