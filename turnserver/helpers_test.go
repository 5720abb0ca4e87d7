package turnserver

import (
	"log/slog"
	"strconv"
)

var discard = slog.New(slog.DiscardHandler)

func itoa(n int) string { return strconv.Itoa(n) }
