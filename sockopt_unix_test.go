//go:build unix

package p2pstreams

import "syscall"

// setRecvBuffer sets a socket's receive buffer (SO_RCVBUF).
func setRecvBuffer(fd uintptr, n int) {
	syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, n)
}
