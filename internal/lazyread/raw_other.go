//go:build !linux

package lazyread

import "syscall"

// Elsewhere Reader.Raw is not used: reads go through Reader.R.
const rawReads = false

func readNow(uintptr, []byte) (int, syscall.Errno) { return 0, syscall.EINVAL }
