package main

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// The checked-in client/constants.js is what the generator writes now: CI
// fails here when someone changed package protocol and did not regenerate.
func TestConstantsUpToDate(t *testing.T) {
	want, err := generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../../client/constants.js")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("client/constants.js is stale: run `go generate ./protocol` and commit the result")
	}
}

func TestGenerateFindsEveryCode(t *testing.T) {
	b, err := generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`BadToken: "bad_token"`, `bad_token: "fatal"`, `peer_connected: "retry"`, `SessionJoin: "SessionJoin"`,
		`FORGET_AFTER_MLS = 30000`, `"interval_mls": 1000`, `manualFailover: false`, `peer: "p"`} {
		if !bytes.Contains(b, []byte(s)) {
			t.Errorf("constants.js lacks %s", s)
		}
	}
	// Every fatal code of package protocol is fatal in the JS too, and no other.
	fatal := []protocol.Code{protocol.CodeBadToken, protocol.CodeTokenExpired, protocol.CodeSessionExpired,
		protocol.CodeSessionFull, protocol.CodeOriginForbidden, protocol.CodePeerRemoved, protocol.CodeSessionClosed}
	for _, c := range fatal {
		if !c.Fatal() || !bytes.Contains(b, []byte(string(c)+`: "fatal",`)) {
			t.Errorf("%s: fatal in Go %v, in constants.js %v", c, c.Fatal(), bytes.Contains(b, []byte(string(c)+`: "fatal",`)))
		}
	}
	if n := strings.Count(string(b), `: "fatal",`); n != len(fatal) {
		t.Errorf("%d fatal codes in constants.js, want %d", n, len(fatal))
	}
}
