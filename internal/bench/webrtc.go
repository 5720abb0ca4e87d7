package bench

import (
	"context"
	"errors"
)

// errNoWebRTC: the webrtc scenario needs the Go peer SDK (package peer).
var errNoWebRTC = errors.New("bench: the webrtc scenario is not available yet (it needs the Go peer SDK, package peer)")

func runWebRTC(ctx context.Context, r *runner, t target) (any, error) {
	return nil, errNoWebRTC
}
