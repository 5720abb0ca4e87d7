package p2pstreams

import (
	"net"
	"syscall"
)

// rawConn returns the socket of a TCP or Unix connection, nil for others
// (TLS and pipes buffer what the socket does not show).
func rawConn(nc net.Conn) syscall.RawConn {
	var sc syscall.Conn
	switch c := nc.(type) {
	case *net.TCPConn:
		sc = c
	case *net.UnixConn:
		sc = c
	default:
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return nil
	}
	return raw
}
