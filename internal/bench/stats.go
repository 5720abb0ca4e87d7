package bench

import (
	"slices"
	"time"
)

// Latency summarizes a set of durations, in milliseconds (JSON numbers that
// read well in a report).
type Latency struct {
	N   int     `json:"n"`
	P50 float64 `json:"p50_ms"`
	P90 float64 `json:"p90_ms"`
	P99 float64 `json:"p99_ms"`
	Max float64 `json:"max_ms"`
}

// summarize sorts d in place and returns its percentiles.
func summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(q * float64(len(d)-1))
		return ms(d[i])
	}
	return Latency{N: len(d), P50: at(0.50), P90: at(0.90), P99: at(0.99), Max: ms(d[len(d)-1])}
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// round keeps reports readable: 4 significant decimals are plenty.
func round(f float64) float64 {
	if f == 0 {
		return 0
	}
	const k = 1e4
	if f > 1e4 || f < -1e4 {
		return float64(int64(f))
	}
	return float64(int64(f*k+0.5)) / k
}
