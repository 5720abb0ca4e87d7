//go:build !unix

package bench

import "errors"

// errNoUnix: the benchmark's measurements read Unix process accounting.
var errNoUnix = errors.New("bench: needs a Unix system (rusage, rlimits, /proc)")

func selfCPU() (float64, error) { return 0, errNoUnix }

func raiseFileLimit() (uint64, error) { return 0, errNoUnix }
