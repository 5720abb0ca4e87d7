package token

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestIssueVerify(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	c := Claims{Session: "lobby", Peer: "alice", Expires: now.Add(time.Hour).Unix(), Config: []byte(`{"keepCableConnection":true}`)}
	tok, err := Issue(secret, c)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Verify(secret, tok, now)
	if err != nil || got.Session != c.Session || got.Peer != c.Peer || got.Expires != c.Expires || string(got.Config) != string(c.Config) {
		t.Fatalf("Verify = %+v, %v", got, err)
	}
	if _, err := Verify(secret, tok, now.Add(time.Hour)); !errors.Is(err, ErrExpired) {
		t.Errorf("at expiry: %v", err)
	}
	if _, err := Verify([]byte("another secret of 32 bytes......"), tok, now); !errors.Is(err, ErrSignature) {
		t.Errorf("other secret: %v", err)
	}
	// Changing any claim breaks the signature.
	payload, sig, _ := strings.Cut(tok, ".")
	other, _ := Issue(secret, Claims{Session: "lobby", Peer: "mallory", Expires: c.Expires})
	otherPayload, _, _ := strings.Cut(other, ".")
	if _, err := Verify(secret, otherPayload+"."+sig, now); !errors.Is(err, ErrSignature) {
		t.Errorf("swapped payload: %v", err)
	}
	for _, bad := range []string{"", ".", "abc", payload, payload + ".!!", strings.Repeat("a", MaxLength+1)} {
		if _, err := Verify(secret, bad, now); err == nil {
			t.Errorf("Verify(%q) accepted", bad)
		}
	}
}

func TestIssueRefuses(t *testing.T) {
	exp := time.Now().Add(time.Hour).Unix()
	for name, c := range map[string]Claims{
		"no session":     {Peer: "a", Expires: exp},
		"no peer":        {Session: "s", Expires: exp},
		"control char":   {Session: "s", Peer: "a\nb", Expires: exp},
		"no expiry":      {Session: "s", Peer: "a"},
		"config array":   {Session: "s", Peer: "a", Expires: exp, Config: []byte(`[1]`)},
		"config invalid": {Session: "s", Peer: "a", Expires: exp, Config: []byte(`{`)},
	} {
		if _, err := Issue(secret, c); err == nil {
			t.Errorf("%s: issued", name)
		}
	}
	if _, err := Issue([]byte("short"), Claims{Session: "s", Peer: "a", Expires: exp}); !errors.Is(err, ErrShortSecret) {
		t.Errorf("short secret: %v", err)
	}
}

// FuzzVerify: no input panics the verifier or passes it without the secret.
func FuzzVerify(f *testing.F) {
	tok, _ := Issue(secret, Claims{Session: "s", Peer: "p", Expires: 2_000_000_000})
	f.Add(tok)
	f.Add("a.b")
	f.Add("eyJzIjoicyJ9.")
	now := time.Unix(1_700_000_000, 0)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Verify(secret, s, now)
		if err != nil {
			return
		}
		// Accepted: it must be a token the secret signed, i.e. one that
		// re-issues to a valid token for the same claims.
		if s != tok {
			re, err := Issue(secret, c)
			if err != nil {
				t.Fatalf("accepted claims that cannot be issued: %+v", c)
			}
			if _, err := Verify(secret, re, now); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestPeek(t *testing.T) {
	c := Claims{Session: "lobby", Peer: "bob", Expires: 1, Config: []byte(`{"manualFailover":true}`)}
	tok, err := Issue(secret, c)
	if err != nil {
		t.Fatal(err)
	}
	// Unverified: another secret and a past expiry do not matter.
	got, err := Peek(tok[:strings.Index(tok, ".")] + ".forged")
	if err != nil || got.Session != "lobby" || got.Peer != "bob" || string(got.Config) != string(c.Config) {
		t.Fatalf("Peek = %+v, %v", got, err)
	}
	for _, bad := range []string{"", "garbage", ".", "!!.x", strings.Repeat("a", MaxLength+1) + ".x"} {
		if _, err := Peek(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("Peek(%q) = %v, want ErrMalformed", bad, err)
		}
	}
}

// FuzzPeek: no input panics the reader, and what it accepts has valid ids.
func FuzzPeek(f *testing.F) {
	tok, _ := Issue(secret, Claims{Session: "s", Peer: "p", Expires: 2_000_000_000, Config: []byte(`{}`)})
	f.Add(tok)
	f.Add("eyJzIjoicyJ9.")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Peek(s)
		if err == nil && c.check() != nil {
			t.Fatalf("Peek accepted invalid claims %+v", c)
		}
	})
}
