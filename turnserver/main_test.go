package turnserver

import (
	"log/slog"
	"os"
	"testing"
)

// TestMain: TURNDEBUG=1 shows the server's and the clients' pion/turn logs.
func TestMain(m *testing.M) {
	if os.Getenv("TURNDEBUG") != "" {
		discard = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	os.Exit(m.Run())
}
