package main

import (
	"context"
	"errors"
	"io"
)

// runServe runs the signaling server with the demo chat.
func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return errors.New("serve: not implemented yet")
}
