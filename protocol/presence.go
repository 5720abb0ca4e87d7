package protocol

import (
	"encoding/json"
	"slices"
)

// MaxPeerStates bounds the entries of one PeerStates map.
const MaxPeerStates = 1024

// DecodePeerStates parses the data of a PeerStates message: a JSON object
// of at most MaxPeerStates peer ids, each with a state of ConnStates
// ("connected"...). It is a trust boundary (fuzzed through DecodeClient).
func DecodePeerStates(data json.RawMessage) (map[PeerID]string, error) {
	if len(data) == 0 || data[0] != '{' {
		return nil, bad(CodeBadMessage, "PeerStates needs data, an object of peer ids and states")
	}
	var m map[PeerID]string
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, bad(CodeBadMessage, "PeerStates data: %v", err)
	}
	if len(m) > MaxPeerStates {
		return nil, bad(CodeBadMessage, "PeerStates has more than %d peers", MaxPeerStates)
	}
	for id, s := range m {
		if err := CheckID(string(id)); err != nil {
			return nil, bad(CodeBadMessage, "PeerStates: peer id: %v", err)
		}
		if !slices.Contains(ConnStates, s) {
			return nil, bad(CodeBadMessage, "PeerStates: %q is not a state", truncate(s))
		}
	}
	return m, nil
}
