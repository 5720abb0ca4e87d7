// Package bench is the load generator behind `p2pstreams bench`: it measures
// the signaling server over real loopback WebSockets and, in the same run, a
// bare WebSocket relay on the same library (the floor), and reports each
// figure absolute and as a ratio to the floor.
//
// Scenarios (see Run): idle (N joined host connections: server memory per
// connection and connect+join latency), relay (pairs exchanging routed
// signaling messages: throughput, one-way latency, loss), storm (many clients
// joining at once: joins per second, latency, failures), webrtc (Go peers
// opening DataChannels through the server), hop (a Redis hop between nodes)
// and media (a Go host sending VP8 video to Go viewers: join to first frame,
// CPU and uplink per viewer, viewers sustained; media.go).
//
// Invariants:
//   - Every loop is bounded in count and in time (Config.Timeout); a
//     scenario that cannot finish reports what it saw and returns.
//   - Traffic stays on loopback: targets are 127.0.0.0/8 only, and client
//     sockets bind to 127.0.0.x source addresses.
//   - Processes this package starts (spawned servers), it stops, by their own
//     handle; goroutines it starts end before Run returns.
//   - Servers under test run one at a time: the floor and ours never share
//     the CPU during a measurement.
package bench
