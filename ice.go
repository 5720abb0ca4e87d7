package p2pstreams

import (
	"encoding/json"
	"time"
)

// iceServers is the "iceServers" of a SessionReady for mb's peer: the
// servers Options.ICEServers gives it (with fresh credentials), then the
// frame config's ice_servers; "[]" when there are none.
func (s *Server) iceServers(mb *membership) json.RawMessage {
	var list []json.RawMessage
	if f := s.o.ICEServers; f != nil {
		for _, e := range f(mb.session, mb.peer, time.Unix(mb.expires, 0)) {
			if b, err := json.Marshal(e); err == nil {
				list = append(list, b)
			}
		}
	}
	if len(mb.configICE) > 0 {
		var cfg []json.RawMessage
		if json.Unmarshal(mb.configICE, &cfg) == nil {
			list = append(list, cfg...)
		}
	}
	if len(list) == 0 {
		return json.RawMessage("[]")
	}
	b, err := json.Marshal(list)
	if err != nil {
		return json.RawMessage("[]")
	}
	return b
}

// configICE returns the ice_servers array of a token's frame config, or nil.
func configICE(config json.RawMessage) json.RawMessage {
	if len(config) == 0 {
		return nil
	}
	var fc struct {
		ICEServers json.RawMessage `json:"ice_servers"`
	}
	if json.Unmarshal(config, &fc) != nil || len(fc.ICEServers) == 0 || fc.ICEServers[0] != '[' {
		return nil
	}
	return fc.ICEServers
}
