//go:build unix

package p2pstreams

import "syscall"

// smallReceiveBuffer sets a socket's receive buffer to 4 KiB before it
// connects, so that the window it offers stays small.
func smallReceiveBuffer(fd uintptr) {
	syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
}
