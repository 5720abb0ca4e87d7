package turncred

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var secret = []byte("0123456789abcdef0123")

func TestMakeCheck(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	u, c := Make(secret, User("lobby", "alice"), now.Add(time.Minute))
	if u != "1800000060:lobby/alice" {
		t.Fatalf("username %q", u)
	}
	if err := Check(secret, u, c, now); err != nil {
		t.Fatal(err)
	}
	tampered := "1800000061" + u[len("1800000060"):]
	cases := []struct {
		name, user, cred string
		at               time.Time
		want             error
	}{
		{"expired", u, c, now.Add(time.Minute), ErrExpired},
		{"other secret", u, Credential([]byte("another-secret-of-16"), u), now, ErrCredential},
		{"tampered username", tampered, c, now, ErrCredential},
		{"tampered credential", u, strings.ToUpper(c[:4]) + c[4:] + "x", now, ErrCredential},
		{"no expiry", "lobby/alice", c, now, ErrMalformed},
		{"bad expiry", "12a:lobby/alice", c, now, ErrMalformed},
		{"empty expiry", ":lobby/alice", c, now, ErrMalformed},
		{"huge expiry", "99999999999999999999:x", c, now, ErrMalformed},
	}
	for _, tc := range cases {
		if err := Check(secret, tc.user, tc.cred, tc.at); !errors.Is(err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
		}
	}
}

// TestCoturnCompatible pins the credential to the TURN REST formula that
// coturn's use-auth-secret computes: base64(HMAC-SHA1(secret, username)).
func TestCoturnCompatible(t *testing.T) {
	// Computed independently: printf %s '1700000000:u' | openssl dgst -sha1 -hmac secretsecretsecret -binary | base64
	if got := Credential([]byte("secretsecretsecret"), "1700000000:u"); got != "vaVAIlgeQV9RkeiRklGsyYpYieQ=" {
		t.Fatalf("credential %q", got)
	}
}

func TestUserEscapes(t *testing.T) {
	if got := User("a/b", "c:d é"); got != "a%2Fb/c:d%20%C3%A9" {
		t.Fatalf("user %q", got)
	}
}

func TestProviderExpiry(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	p, err := NewProvider(Provider{TURN: []string{"turn:127.0.0.1:3478"}, STUN: []string{"stun:127.0.0.1:3478"}, Secret: secret, TTL: 10 * time.Minute, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Expiry(now.Add(time.Hour)); !got.Equal(now.Add(10 * time.Minute)) {
		t.Errorf("TTL: %v", got)
	}
	if got := p.Expiry(now.Add(time.Minute)); !got.Equal(now.Add(time.Minute)) {
		t.Errorf("token expiry: %v", got)
	}
	s := p.ICEServers("lobby", "bob", now.Add(time.Minute))
	if len(s) != 2 || s[0].Username != "" || s[1].Username != "1800000060:lobby/bob" {
		t.Fatalf("servers %+v", s)
	}
	if err := Check(secret, s[1].Username, s[1].Credential, now); err != nil {
		t.Fatal(err)
	}
	if _, err := NewProvider(Provider{Secret: []byte("short")}); !errors.Is(err, ErrShortSecret) {
		t.Fatalf("short secret: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("1800000060:lobby/alice")
	f.Add(":")
	f.Add("-1:x")
	f.Fuzz(func(t *testing.T, username string) {
		exp, user, err := Parse(username)
		if err != nil {
			return
		}
		if exp.Unix() < 0 || !strings.HasSuffix(username, ":"+user) {
			t.Fatalf("%q parsed as %v %q", username, exp, user)
		}
	})
}
