package peer

import (
	"fmt"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// State is the state of a WebRTC connection between two peers: a peer's own
// connection to the session (Peer.State), and each entry of the host's map
// (Peer.Peers). Its String form is the wire form used in
// Data.Connection.State messages, shared with the browser client.
type State uint8

// The states, in the order a connection usually goes through them.
const (
	StateNew          State = iota // not joined yet
	StateNegotiating               // joined; the offer and answer go through the server
	StateConnecting                // the description is set; ICE and DTLS are connecting
	StateConnected                 // the DataChannel is open (for the host: joined)
	StateDisconnected              // the link was lost (heartbeat silence, closed channel, host left)
	StateClosed                    // closed for good: Close, or the host left without failover
	StateFailed                    // failed for good: a fatal error (see Peer.Err)
)

// stateNames are the wire names, in the order of the constants above.
var stateNames = protocol.ConnStates

// String returns the wire name of s ("connected").
func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// ParseState returns the State whose wire name is name.
func ParseState(name string) (State, error) {
	for i, n := range stateNames {
		if n == name {
			return State(i), nil
		}
	}
	return 0, fmt.Errorf("peer: unknown state %q", name)
}

// MarshalText implements encoding.TextMarshaler with the wire name.
func (s State) MarshalText() ([]byte, error) {
	if int(s) >= len(stateNames) {
		return nil, fmt.Errorf("peer: invalid state %d", uint8(s))
	}
	return []byte(stateNames[s]), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *State) UnmarshalText(b []byte) error {
	v, err := ParseState(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Final reports whether s ends a Peer: nothing follows it.
func (s State) Final() bool { return s == StateClosed || s == StateFailed }

// next lists the states a Peer's own state may change to from each state.
// A client goes new → negotiating → connecting → connected, loses its host
// (disconnected) and, with failover, negotiates again; a host goes new →
// negotiating → connected and stays connected through signaling blips, or
// becomes a client (connected → negotiating) when it rejoins to find
// another host. Closed and failed are final.
var next = [...][]State{
	StateNew:          {StateNegotiating, StateClosed, StateFailed},
	StateNegotiating:  {StateConnecting, StateConnected, StateDisconnected, StateClosed, StateFailed},
	StateConnecting:   {StateConnected, StateDisconnected, StateClosed, StateFailed},
	StateConnected:    {StateNegotiating, StateDisconnected, StateClosed, StateFailed},
	StateDisconnected: {StateNegotiating, StateClosed, StateFailed},
	StateClosed:       nil,
	StateFailed:       nil,
}

// canBecome reports whether a Peer's own state may change from s to t.
func (s State) canBecome(t State) bool {
	if int(s) >= len(next) {
		return false
	}
	for _, n := range next[s] {
		if n == t {
			return true
		}
	}
	return false
}
