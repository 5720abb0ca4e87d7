package main

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// releaseMemory gives the OS back the memory that a burst of activity (a
// wave of connections joining, a storm of reconnects) freed, once the
// process is quiet again, and runs until ctx ends.
//
// Why serve needs it: the Go runtime keeps freed heap for reuse up to
// about 10 % above the heap goal, which is twice the live heap with the
// default GOGC, and the background scavenger returns the rest slowly; the
// stacks of goroutines that ended are freed only by a GC. A server that
// just took 10k connections and went quiet holds about twice what its
// idle connections need (9.6 KB RSS per idle connection measured, against
// 5.4 KB after a full GC) until traffic brings GCs again. A memory limit
// (GOMEMLIMIT) would need to know the machine's memory and does not
// release below it; a lower GOGC costs GC work on every message. One
// debug.FreeOSMemory (a full GC, then every free page returned) after a
// burst, at most once per releaseEvery, costs one GC over the live heap
// (tens of milliseconds at 10k connections) and nothing while the server is
// busy or steadily idle. releaseEvery is short because a burst may pause
// (a loaded machine, a client's backoff): a release in the pause must not
// keep the one after the burst from coming soon.
func releaseMemory(ctx context.Context) {
	const (
		tick         = 500 * time.Millisecond
		quietTicks   = 2               // quiet for a second before releasing
		releaseEvery = 3 * time.Second // at most one forced release per period
		busyAllocs   = 256 << 10       // bytes allocated in a tick that mean activity
	)
	sample := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	read := func() (uint64, int) {
		metrics.Read(sample)
		return sample[0].Value.Uint64(), runtime.NumGoroutine()
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	lastAllocs, lastG := read()
	var (
		pending     bool // activity since the last release
		quiet       int  // quiet ticks in a row
		lastRelease time.Time
	)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		allocs, g := read()
		dg := g - lastG
		busy := allocs-lastAllocs > busyAllocs || dg > max(16, g/100) || -dg > max(16, g/100)
		lastAllocs, lastG = allocs, g
		if busy {
			pending, quiet = true, 0
			continue
		}
		if quiet++; pending && quiet >= quietTicks && time.Since(lastRelease) >= releaseEvery {
			debug.FreeOSMemory()
			lastRelease, pending = time.Now(), false
			lastAllocs, _ = read() // the release's own allocations are not activity
		}
	}
}
