// Package turncred makes and checks short-lived TURN credentials the TURN
// REST way (draft-uberti-behave-turn-rest), so that the embedded TURN server
// (package turnserver) and an external one (coturn with use-auth-secret and
// the same static-auth-secret) accept the same credentials:
//
//	username   = "<expiry, Unix seconds>:<user>"
//	credential = base64(HMAC-SHA1(secret, username))
//
// The user part names the peer: its session and peer ids, each
// path-escaped, joined by "/". A credential lives at most a TTL and never
// past the peer's token. It needs only the standard library.
package turncred

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/p2pstreams/p2pstreams"
)

// DefaultTTL is a credential's lifetime when none is given. A TURN
// allocation ends with its credential (see package turnserver), so this is
// also how long a relayed link lives before its peer rejoins for fresh
// credentials: long enough not to cut calls often, short enough that a
// leaked credential is soon worthless.
const DefaultTTL = time.Hour

// MinSecretLength is the shortest secret accepted, in bytes.
const MinSecretLength = 16

var (
	// ErrMalformed: the username is not "<expiry>:<user>".
	ErrMalformed = errors.New("turncred: malformed username")
	// ErrExpired: the username's expiry has passed.
	ErrExpired = errors.New("turncred: expired")
	// ErrCredential: the credential does not match (tampered, or another secret).
	ErrCredential = errors.New("turncred: bad credential")
	// ErrShortSecret: the secret is shorter than MinSecretLength.
	ErrShortSecret = errors.New("turncred: secret shorter than 16 bytes")
)

// User is the user part of a peer's username: its session and peer ids,
// path-escaped so that "/" separates them unambiguously.
func User(session p2pstreams.SessionID, peer p2pstreams.PeerID) string {
	return url.PathEscape(string(session)) + "/" + url.PathEscape(string(peer))
}

// Make returns the username and credential of user until expires.
func Make(secret []byte, user string, expires time.Time) (username, credential string) {
	username = strconv.FormatInt(expires.Unix(), 10) + ":" + user
	return username, Credential(secret, username)
}

// Credential is base64(HMAC-SHA1(secret, username)): the TURN password
// that goes with username.
func Credential(secret []byte, username string) string {
	m := hmac.New(sha1.New, secret)
	m.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// Parse splits a username into its expiry and user part.
func Parse(username string) (expires time.Time, user string, err error) {
	ts, user, ok := strings.Cut(username, ":")
	if !ok || ts == "" || len(ts) > 19 {
		return time.Time{}, "", ErrMalformed
	}
	for _, c := range ts {
		if c < '0' || c > '9' {
			return time.Time{}, "", ErrMalformed
		}
	}
	n, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return time.Time{}, "", ErrMalformed
	}
	return time.Unix(n, 0), user, nil
}

// Check reports whether username is well formed and unexpired at now, and,
// if credential is not empty, whether it is the one secret gives it. (A
// TURN server never sees the credential itself, only a key derived from it:
// it uses Parse and Credential.)
func Check(secret []byte, username, credential string, now time.Time) error {
	exp, _, err := Parse(username)
	if err != nil {
		return err
	}
	if !now.Before(exp) {
		return ErrExpired
	}
	if credential != "" && !hmac.Equal([]byte(credential), []byte(Credential(secret, username))) {
		return ErrCredential
	}
	return nil
}

// Provider hands out ICE servers with fresh credentials: plug its
// ICEServers method into p2pstreams.Options.ICEServers.
type Provider struct {
	// STUN are stun: URLs given to every peer, without credentials.
	STUN []string
	// TURN are turn: or turns: URLs given with a credential.
	TURN []string
	// Secret is the TURN server's shared secret; at least 16 bytes.
	Secret []byte
	// TTL bounds a credential's lifetime; default DefaultTTL.
	TTL time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// NewProvider checks p's secret and returns it.
func NewProvider(p Provider) (*Provider, error) {
	if len(p.Secret) < MinSecretLength {
		return nil, ErrShortSecret
	}
	p.Secret = append([]byte(nil), p.Secret...)
	return &p, nil
}

// Expiry is when a credential made now for a peer whose token expires at
// tokenExpires ends: now plus the TTL, but never after the token.
func (p *Provider) Expiry(tokenExpires time.Time) time.Time {
	now := time.Now
	if p.Now != nil {
		now = p.Now
	}
	ttl := p.TTL
	if ttl <= 0 {
		ttl = DefaultTTL
	}
	exp := now().Add(ttl)
	if !tokenExpires.IsZero() && tokenExpires.Before(exp) {
		exp = tokenExpires
	}
	return exp
}

// ICEServers returns the STUN entry and the TURN entry, with a fresh
// credential for the peer, that expires with Expiry(tokenExpires).
func (p *Provider) ICEServers(session p2pstreams.SessionID, peer p2pstreams.PeerID, tokenExpires time.Time) []p2pstreams.ICEServer {
	var out []p2pstreams.ICEServer
	if len(p.STUN) > 0 {
		out = append(out, p2pstreams.ICEServer{URLs: p.STUN})
	}
	if len(p.TURN) > 0 {
		u, c := Make(p.Secret, User(session, peer), p.Expiry(tokenExpires))
		out = append(out, p2pstreams.ICEServer{URLs: p.TURN, Username: u, Credential: c})
	}
	return out
}
