package turnserver

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/pion/logging"
)

// loggerFactory sends pion/turn's logs to a slog.Logger at debug level
// (its errors are about peers' packets, not the server), so that the
// library never prints.
type loggerFactory struct{ log *slog.Logger }

func (f loggerFactory) NewLogger(scope string) logging.LeveledLogger {
	return leveled{f.log.With("scope", scope)}
}

type leveled struct{ log *slog.Logger }

func (l leveled) out(msg string) { l.log.Debug(msg) }

func (l leveled) outf(format string, args ...any) {
	if l.log.Enabled(context.Background(), slog.LevelDebug) {
		l.log.Debug(fmt.Sprintf(format, args...))
	}
}

func (l leveled) Trace(msg string)                  {}
func (l leveled) Tracef(format string, args ...any) {}
func (l leveled) Debug(msg string)                  { l.out(msg) }
func (l leveled) Debugf(format string, args ...any) { l.outf(format, args...) }
func (l leveled) Info(msg string)                   { l.out(msg) }
func (l leveled) Infof(format string, args ...any)  { l.outf(format, args...) }
func (l leveled) Warn(msg string)                   { l.out(msg) }
func (l leveled) Warnf(format string, args ...any)  { l.outf(format, args...) }
func (l leveled) Error(msg string)                  { l.out(msg) }
func (l leveled) Errorf(format string, args ...any) { l.outf(format, args...) }
