//go:build !linux

package p2pstreams

// writeNow: without Linux's writev on the raw socket every frame goes
// through the writer goroutine (see directwrite_linux.go).
func (c *conn) writeNow(wsFrame) (int, bool) { return 0, false }
