// Package peer is the Go peer of p2pstreams: a Go program joins a session as
// its host or as a client, exactly as the browser client does, over
// WebRTC (pion/webrtc) with the p2pstreams server for signaling. Bots,
// recorders, devices, Go services hosting rooms of browsers, and the load
// generator of the benchmarks use it.
//
//	p, err := peer.Join(ctx, peer.Config{
//		URL:   "ws://127.0.0.1:8080/p2p/",
//		Token: tok, // from Server.Token
//		OnMessage: func(m peer.Message) { fmt.Printf("%s: %s\n", m.From, m.Text()) },
//	})
//	...
//	err = p.Send(ctx, "hello")
//	...
//	p.Close(ctx)
//
// The first peer to join a session is its host (the server decides). The
// host opens one RTCPeerConnection and DataChannel ("p2pstreams") per
// client, relays every Data message to every peer with its sender, sends
// the map of every peer's state on each change, and runs the heartbeat. A
// client answers, closes its signaling WebSocket once its DataChannel is
// open (unless Config.KeepSignaling), and sees its host leave. With
// failover (the default) a client that loses its host joins again with a
// jittered backoff and the first one back becomes the new host; the Peer
// lives on with its new role (IsHost, HostID). PROTOCOL.md has the wire
// format.
//
// # Invariants
//
//   - One goroutine (the loop) owns every piece of session state; pion's
//     callbacks, the signaling reader, Send on the host and Close only push
//     events into an unbounded queue: nothing the network does blocks them,
//     and nothing the app does blocks the loop. (Send on the host first
//     waits for room at its fastest client: pace.go.)
//   - Each signaling WebSocket has one writer goroutine (signal.go), as in
//     the server: the loop only queues frames (at most 256: a socket that
//     takes no more is stalled and closed), so a stalled socket never stops
//     the loop nor its heartbeats.
//   - Every Data message reaches every peer exactly once, the sender
//     included, through the host and in the order the host's loop handled
//     it; the host's own messages too. "Every peer" is every peer in the
//     session when the host relays it: a client is in from the
//     SessionReady that names it, and the host holds what it relays to a
//     client until that client's channel is open.
//   - Callbacks run one at a time on one goroutine per Peer, fed by a
//     queue: a slow callback never stalls the relay or the heartbeat.
//   - Events of a replaced or closed link are ignored (each carries its link).
//   - Remote ICE candidates wait until the remote description is set; local
//     ones are sent after the offer or answer (both pass through the loop).
//   - The host never waits for one client: a client whose send queue passes
//     the relay bound (protocol.RelayMaxQueued) is dropped (state failed).
//     The host's own Send waits only for the fastest client.
//   - After Close returns (or Done is closed), no goroutine of the Peer is
//     left but a callback that was running then.
//   - A received track ends (Track.Done) exactly once: when its sender
//     removes it or the link that brought it closes; on the host that ends
//     its forwarding to every other client too.
//   - The package never panics, exits or prints; it logs to Config.Logger.
package peer
