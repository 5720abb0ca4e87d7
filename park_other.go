//go:build !linux

package p2pstreams

// Without epoll an idle connection's reader waits in its goroutine (see
// park_linux.go for the parked path).

func (c *conn) canPark() bool { return false }
func (c *conn) park() bool    { return false }
func (c *conn) unpark()       {}
func (c *conn) unregister()   {}
