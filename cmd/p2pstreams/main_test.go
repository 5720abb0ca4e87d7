package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestRunUsage(t *testing.T) {
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"help"}, &out, &errOut); err != nil {
		t.Fatalf("help: %v", err)
	}
	for name := range commands {
		if !strings.Contains(out.String(), "  "+name+" ") {
			t.Errorf("usage does not list %q:\n%s", name, out.String())
		}
	}
	out.Reset()
	if err := run(context.Background(), nil, &out, &errOut); !errors.Is(err, errUsage) || !strings.Contains(errOut.String(), "Usage:") {
		t.Errorf("no arguments: err %v, stderr %q; want errUsage and the usage", err, errOut.String())
	}
	errOut.Reset()
	if err := run(context.Background(), []string{"frobnicate"}, &out, &errOut); !errors.Is(err, errUsage) || !strings.Contains(errOut.String(), `unknown command "frobnicate"`) {
		t.Errorf("unknown command: err %v, stderr %q", err, errOut.String())
	}
	if out.Len() != 0 {
		t.Errorf("errors went to stdout: %q", out.String())
	}
}

// help COMMAND prints that command's usage, on stdout.
func TestHelpCommand(t *testing.T) {
	for name := range commands {
		var out, errOut bytes.Buffer
		if err := run(context.Background(), []string{"help", name}, &out, &errOut); err != nil {
			t.Errorf("help %s: %v", name, err)
		}
		if o := out.String(); !strings.Contains(o, "Usage") || !strings.Contains(o, name) || !strings.Contains(o, "-") {
			t.Errorf("help %s printed %q (stderr %q), want its usage", name, out.String(), errOut.String())
		}
	}
}
