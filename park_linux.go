package p2pstreams

import (
	"sync"
	"syscall"
	"time"
)

// Parking (Linux): a connection idle between messages holds no goroutine.
// Its reader registers the socket with the process's poller (one epoll
// instance; one goroutine while any connection that parked is open) and
// ends; when the socket has something to read, or the connection starts
// closing, a fresh reader resumes it. Whoever flips conn.parked from true
// to false starts that reader, so exactly one does; a wake-up that finds
// the connection running is dropped, and one that resumes it with nothing
// to read costs a goroutine that parks again after idleMove.

type poller struct {
	epfd int
	wake [2]int // a pipe: a byte in it tells run to look whether it is still needed

	mu      sync.Mutex
	conns   map[int32]*conn // open connections that parked, by socket descriptor
	running bool            // run is running
}

var (
	thePoller     *poller
	thePollerOnce sync.Once
)

// getPoller returns the process's poller, or nil when epoll is not
// available (the goroutine path is used then).
func getPoller() *poller {
	thePollerOnce.Do(func() {
		fd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
		if err != nil {
			return
		}
		p := &poller{epfd: fd, conns: make(map[int32]*conn)}
		if err := syscall.Pipe2(p.wake[:], syscall.O_CLOEXEC|syscall.O_NONBLOCK); err != nil {
			syscall.Close(fd)
			return
		}
		ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(p.wake[0])}
		if err := syscall.EpollCtl(fd, syscall.EPOLL_CTL_ADD, p.wake[0], &ev); err != nil {
			syscall.Close(fd)
			syscall.Close(p.wake[0])
			syscall.Close(p.wake[1])
			return
		}
		thePoller = p
	})
	return thePoller
}

// canPark reports whether c's reader may park instead of waiting.
func (c *conn) canPark() bool {
	if c.fd == 0 {
		c.fd = -1
		if c.raw != nil && getPoller() != nil {
			c.raw.Control(func(d uintptr) { c.fd = int32(d) })
		}
	}
	return c.fd > 0
}

// park registers c with the poller; the caller (c's reader) ends if it
// returns true. It must be at a message boundary with nothing buffered.
func (c *conn) park() bool {
	if !c.canPark() {
		return false
	}
	p := thePoller
	c.parked.Store(true)
	p.mu.Lock()
	p.conns[c.fd] = c
	if !p.running {
		p.running = true
		go p.run()
	}
	p.mu.Unlock()
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: c.fd}
	err := syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_MOD, int(c.fd), &ev)
	if err == syscall.ENOENT {
		err = syscall.EpollCtl(p.epfd, syscall.EPOLL_CTL_ADD, int(c.fd), &ev)
	}
	c.mu.Lock()
	closing := c.closing
	c.mu.Unlock()
	if err != nil || closing {
		// Not armed, or closing began before c.parked was seen: go on
		// reading here, unless a wake-up took over already.
		return !c.parked.CompareAndSwap(true, false)
	}
	return true
}

// unpark resumes c if it is parked (the connection is closing: its reader
// must see the peer's close frame or the socket's end).
func (c *conn) unpark() {
	if c.parked.CompareAndSwap(true, false) {
		go c.readLoop()
	}
}

// unregister forgets c before its socket is closed (closing the socket
// removes it from the epoll instance).
func (c *conn) unregister() {
	if c.fd <= 0 {
		return
	}
	p := thePoller
	p.mu.Lock()
	if p.conns[c.fd] == c {
		delete(p.conns, c.fd)
		if len(p.conns) == 0 {
			syscall.Write(p.wake[1], []byte{0}) // run may end
		}
	}
	p.mu.Unlock()
}

func (p *poller) run() {
	events := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, events, -1)
		if err != nil {
			if err != syscall.EINTR {
				time.Sleep(10 * time.Millisecond) // not expected; do not spin
			}
			continue
		}
		for _, ev := range events[:n] {
			if ev.Fd == int32(p.wake[0]) {
				var b [64]byte
				syscall.Read(p.wake[0], b[:])
				p.mu.Lock()
				done := len(p.conns) == 0
				if done {
					p.running = false
				}
				p.mu.Unlock()
				if done {
					return
				}
				continue
			}
			p.mu.Lock()
			c := p.conns[ev.Fd]
			p.mu.Unlock()
			if c != nil {
				c.unpark()
			}
		}
	}
}
