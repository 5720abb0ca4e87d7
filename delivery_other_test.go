//go:build !unix

package p2pstreams

// smallReceiveBuffer leaves the buffer as it is where there is no
// SO_RCVBUF through package syscall; the test's peer is then less slow.
func smallReceiveBuffer(uintptr) {}
