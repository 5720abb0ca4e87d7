// Package token issues and verifies the signed, expiring tokens that bind a
// peer to a session. The server trusts session and peer ids only from a token
// it can verify; a peer cannot join a session or speak as a peer it was not
// given.
//
// A token is base64url(JSON claims) "." base64url(HMAC-SHA256(secret, claims)).
// It is not encrypted: the claims are readable by whoever holds the token.
package token

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// MinSecretLength is the shortest secret Issue and Verify accept, in bytes.
const MinSecretLength = 16

// MaxLength bounds an encoded token, in bytes.
const MaxLength = 8 << 10

var (
	// ErrMalformed: the token is not one this package issued.
	ErrMalformed = errors.New("token: malformed")
	// ErrSignature: the signature does not match (forged, or another secret).
	ErrSignature = errors.New("token: bad signature")
	// ErrExpired: the token was valid but its expiry has passed.
	ErrExpired = errors.New("token: expired")
	// ErrShortSecret: the secret is shorter than MinSecretLength.
	ErrShortSecret = errors.New("token: secret shorter than 16 bytes")
)

// Claims is what a token binds.
type Claims struct {
	Session protocol.SessionID `json:"s"`
	Peer    protocol.PeerID    `json:"p"`
	// Expires is when the token, and the peer's membership, end (Unix seconds).
	Expires int64 `json:"e"`
	// Config is the frame config (ICE servers, heartbeat, ...), a JSON object
	// or empty. The server hands it back to the peer when it joins.
	Config json.RawMessage `json:"c,omitempty"`
}

// ExpiresAt returns Expires as a time.
func (c Claims) ExpiresAt() time.Time { return time.Unix(c.Expires, 0) }

func (c Claims) check() error {
	if err := protocol.CheckID(string(c.Session)); err != nil {
		return fmt.Errorf("session id: %w", err)
	}
	if err := protocol.CheckID(string(c.Peer)); err != nil {
		return fmt.Errorf("peer id: %w", err)
	}
	if c.Expires <= 0 {
		return errors.New("no expiry")
	}
	if len(c.Config) > 0 && (c.Config[0] != '{' || !json.Valid(c.Config)) {
		return errors.New("config is not a JSON object")
	}
	return nil
}

var enc = base64.RawURLEncoding

// Issue signs c with secret.
func Issue(secret []byte, c Claims) (string, error) {
	if len(secret) < MinSecretLength {
		return "", ErrShortSecret
	}
	if err := c.check(); err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	body, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("token: %w", err)
	}
	payload := enc.EncodeToString(body)
	tok := payload + "." + enc.EncodeToString(sign(secret, payload))
	if len(tok) > MaxLength {
		return "", fmt.Errorf("token: longer than %d bytes (config too large)", MaxLength)
	}
	return tok, nil
}

// Verify checks tok's signature with secret and its expiry against now, and
// returns its claims. The error is ErrMalformed, ErrSignature or ErrExpired
// (possibly wrapped).
func Verify(secret []byte, tok string, now time.Time) (Claims, error) {
	var c Claims
	if len(secret) < MinSecretLength {
		return c, ErrShortSecret
	}
	if len(tok) > MaxLength {
		return c, ErrMalformed
	}
	payload, sig, ok := strings.Cut(tok, ".")
	if !ok {
		return c, ErrMalformed
	}
	got, err := enc.DecodeString(sig)
	if err != nil {
		return c, ErrMalformed
	}
	// Check the signature before parsing anything the sender controls.
	if !hmac.Equal(got, sign(secret, payload)) {
		return c, ErrSignature
	}
	c, err = decodeClaims(payload)
	if err != nil {
		return Claims{}, err
	}
	if !now.Before(c.ExpiresAt()) {
		return Claims{}, ErrExpired
	}
	return c, nil
}

// Peek returns tok's claims without checking its signature or expiry: for
// the holder of a token (a peer), which needs its own ids and config from
// it; only the server, with the secret, can trust them. It bounds and
// validates like Verify, and returns ErrMalformed for anything else.
func Peek(tok string) (Claims, error) {
	if len(tok) > MaxLength {
		return Claims{}, ErrMalformed
	}
	payload, _, ok := strings.Cut(tok, ".")
	if !ok {
		return Claims{}, ErrMalformed
	}
	return decodeClaims(payload)
}

// decodeClaims reads and checks the claims of a token's first part.
func decodeClaims(payload string) (Claims, error) {
	var c Claims
	body, err := enc.DecodeString(payload)
	if err != nil || json.Unmarshal(body, &c) != nil {
		return Claims{}, ErrMalformed
	}
	if err := c.check(); err != nil {
		return Claims{}, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	return c, nil
}

func sign(secret []byte, payload string) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(payload))
	return m.Sum(nil)
}
