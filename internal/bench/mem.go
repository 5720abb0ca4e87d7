package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
)

// Mem is a snapshot of a server process's memory in its steady state: taken
// after enough GCs for goroutine stacks to stop shrinking, and after
// returning freed pages to the OS, so that RSS counts live memory. (A GC
// halves at most once the stack of a goroutine that uses under a quarter of
// it; an idle connection's reader, whose stack grew while it handled its
// join, needs several GCs to come back to its resting size, as it does in a
// server that has run for a few minutes.)
type Mem struct {
	RSS        uint64 `json:"rss"`         // VmRSS from /proc/PID/status, bytes
	HeapAlloc  uint64 `json:"heap_alloc"`  // live heap objects, bytes
	HeapInuse  uint64 `json:"heap_inuse"`  // heap spans in use, bytes
	StackInuse uint64 `json:"stack_inuse"` // goroutine stacks, bytes
	Sys        uint64 `json:"sys"`         // all memory the Go runtime got from the OS
	Goroutines int    `json:"goroutines"`
}

// maxGCs is the GCs of one measurement: from 64 KiB down to 2 KiB a stack
// needs 5 halvings; a few more for those the runtime defers.
const maxGCs = 8

// selfMem measures this process; with gc, in its steady state (see Mem),
// else as it is.
func selfMem(gc bool) (Mem, error) {
	var ms runtime.MemStats
	if gc {
		for range maxGCs {
			runtime.GC()
		}
		debug.FreeOSMemory()
	}
	runtime.ReadMemStats(&ms)
	rss, err := readRSS(os.Getpid())
	if err != nil {
		return Mem{}, err
	}
	return Mem{
		RSS:        rss,
		HeapAlloc:  ms.HeapAlloc,
		HeapInuse:  ms.HeapInuse,
		StackInuse: ms.StackInuse,
		Sys:        ms.Sys,
		Goroutines: runtime.NumGoroutine(),
	}, nil
}

// readRSS returns VmRSS of process pid, in bytes.
func readRSS(pid int) (uint64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		line := s.Bytes()
		if rest, ok := bytes.CutPrefix(line, []byte("VmRSS:")); ok {
			kb, err := strconv.ParseUint(string(bytes.TrimSuffix(bytes.TrimSpace(rest), []byte(" kB"))), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("bench: VmRSS %q: %v", rest, err)
			}
			return kb << 10, nil
		}
	}
	if err := s.Err(); err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("bench: no VmRSS in /proc/%d/status", pid)
}

// perConn is (after-before)/n, in bytes, as a float (it can be negative
// when the runtime returned memory in between).
func perConn(after, before uint64, n int) float64 {
	if n <= 0 {
		return 0
	}
	return round((float64(after) - float64(before)) / float64(n))
}
