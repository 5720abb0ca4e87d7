package lazyread

import (
	"syscall"
	"unsafe"
)

const rawReads = true

// readNow reads from the non-blocking socket fd into p (len(p) > 0) with a
// raw system call: it never blocks, so the runtime need not know of it.
func readNow(fd uintptr, p []byte) (int, syscall.Errno) {
	for {
		r, _, e := syscall.RawSyscall(syscall.SYS_READ, fd, uintptr(unsafe.Pointer(&p[0])), uintptr(len(p)))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(r), 0
	}
}
