package peer

import (
	"sort"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// LinkStats describe one live link of a Peer (the browser client's
// linkStats() has the same fields), from its ICE transport's selected
// candidate pair.
type LinkStats struct {
	Peer protocol.PeerID // the other end
	// Local and Remote are the selected pair's candidate types: "host",
	// "srflx", "prflx" or "relay"; empty before a pair is selected.
	Local, Remote string
	// Relayed: either end of the pair is a TURN relay.
	Relayed bool
	// RTT is the pair's last measured round-trip time; 0 when unknown.
	RTT time.Duration
}

// Stats returns one LinkStats per live link, ordered by peer id: a host's
// links to its clients, or a client's link to its host.
func (p *Peer) Stats() []LinkStats {
	var out []LinkStats
	p.live.Range(func(_, v any) bool {
		l := v.(*link)
		out = append(out, l.stats())
		return true
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Peer < out[j].Peer })
	return out
}

func (l *link) stats() LinkStats {
	s := LinkStats{Peer: l.remote}
	sctp := l.pc.SCTP()
	if sctp == nil || sctp.Transport() == nil || sctp.Transport().ICETransport() == nil {
		return s
	}
	pair, err := sctp.Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
		return s
	}
	s.Local, s.Remote = pair.Local.Typ.String(), pair.Remote.Typ.String()
	s.Relayed = pair.Local.Typ == webrtc.ICECandidateTypeRelay || pair.Remote.Typ == webrtc.ICECandidateTypeRelay
	if ps, ok := l.pc.GetStats().GetICECandidatePairStats(pair); ok {
		s.RTT = time.Duration(ps.CurrentRoundTripTime * float64(time.Second))
	}
	return s
}
