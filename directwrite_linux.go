package p2pstreams

import (
	"syscall"
	"unsafe"
)

// writeNow writes f straight to the socket without blocking, from the
// enqueuing goroutine, when no writer runs and nothing waits (c.mu is held):
// at everyday rates most frames go out alone, and starting a writer
// goroutine for each costs more than the write. It returns how many bytes
// of f's frame (header and payload) it wrote: all of them, or fewer when
// the socket's buffer is full (the rest goes through the writer); ok is
// false when the socket cannot be written to directly. The writev is a raw
// system call (it never blocks: the socket is non-blocking): the runtime's
// bookkeeping for a call that may block wakes its monitor thread whenever
// the process was idle, a futex call and two thread switches per frame at
// everyday rates.
func (c *conn) writeNow(f wsFrame) (n int, ok bool) {
	if c.raw == nil {
		return 0, false
	}
	var hdr [10]byte
	h := appendHeader(hdr[:0], f.op, len(f.p))
	err := c.raw.Write(func(fd uintptr) bool {
		iov := [2]syscall.Iovec{{Base: &h[0]}, {}}
		iov[0].SetLen(len(h))
		cnt := 1
		if len(f.p) > 0 {
			iov[1].Base = &f.p[0]
			iov[1].SetLen(len(f.p))
			cnt = 2
		}
		r, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(cnt))
		if e == 0 {
			n = int(r)
		}
		return true // never wait: what is not written is the writer's
	})
	return n, err == nil
}
