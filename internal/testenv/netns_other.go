//go:build !linux

package testenv

import "errors"

func reexecInNetns() (int, error) {
	return 0, errors.New("network namespaces exist only on Linux")
}

func loopbackUp() error { return nil }
