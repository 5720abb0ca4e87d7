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
	if n := strings.Count(string(b), `: "fatal",`); n != 5 {
		t.Errorf("%d fatal codes, want 5", n)
	}
	_ = protocol.CodeBadToken
}
