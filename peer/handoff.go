package peer

import (
	"encoding/json"
	"time"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// Host changes and the opt-in state hand-off (loop goroutine only), as in
// the browser client (client/peer.js): the host sends the app's state
// (Config.HostState) to each client when its channel opens and at most
// every protocol.HostStateEvery while Data messages flow; a client restores
// the first one from each host, keeps the later ones and the Data messages
// since the last one, and, when it becomes the host, restores the last one
// and delivers those messages again.

// handoff is the loop's state for host changes and the hand-off. It
// outlives rounds: a client's last state from its host is what it restores
// when it hosts next, and seq only grows (a state asked for in one round
// may arrive in the next).
type handoff struct {
	lastHost    protocol.PeerID // the host of the last join, for OnHostChange
	snapshot    json.RawMessage // client: the host's last state (HostState)
	since       []Message       // client: the Data messages after it
	seq         uint64          // host: Data messages relayed
	stateDirty  bool            // host: Data relayed since the last state sent
	stateSentAt time.Time       // host: when it last sent its state
}

// noteHost tells OnHostChange when the session's host is another peer now.
func (p *Peer) noteHost(host protocol.PeerID) {
	if p.handoff.lastHost != "" && p.handoff.lastHost != host {
		p.push(callback{kind: cbHostChange, hosts: [2]protocol.PeerID{p.handoff.lastHost, host}}, p.cfg.OnHostChange != nil)
	}
	p.handoff.lastHost = host
}

// askHostState asks the dispatcher for the app's state, for l or (nil)
// every open client. The dispatcher calls HostState after the OnMessage
// calls of the p.handoff.seq messages relayed so far, so the state it returns
// holds those and no later one; the loop then says how many later ones
// each client got before the state ("after"), for it to deliver again.
func (p *Peer) askHostState(l *link) {
	if p.cfg.HostState == nil || p.events == nil {
		return
	}
	if l == nil {
		p.handoff.stateDirty, p.handoff.stateSentAt = false, time.Now()
	}
	p.events.push(callback{kind: cbSnapshot, link: l, seq: p.handoff.seq})
}

// takeHostState runs on the dispatcher: it calls HostState and hands the
// result to the loop.
func (p *Peer) takeHostState(c callback) {
	v := p.cfg.HostState()
	if v == nil {
		return
	}
	data, err := json.Marshal(v)
	if err != nil {
		p.log.Warn("p2pstreams: HostState is not JSON", "err", err)
		return
	}
	if string(data) == "null" { // a nil slice or map: no state either
		return
	}
	p.inbox.push(event{kind: evHostState, link: c.link, data: data, seq: c.seq})
}

// sendHostState sends a state taken after message seq to its link, or to
// every open client; a link made after seq gets none (it would miss the
// messages between).
func (p *Peer) sendHostState(ev event) {
	if !p.isHostNow() {
		return
	}
	after := p.handoff.seq - ev.seq
	msg := func() string {
		b, _ := json.Marshal(wire{Type: typeHostState, Data: ev.data, After: after})
		return string(b)
	}()
	for _, l := range p.host.links {
		if (ev.link == nil || ev.link == l) && l.open && l.baseSeq <= ev.seq {
			p.sendPieces(l, chunkText(msg))
		}
	}
}

// hostStateTick asks for a fresh state when Data flowed since the last one.
func (p *Peer) hostStateTick(now time.Time) {
	if p.handoff.stateDirty && now.Sub(p.handoff.stateSentAt) >= protocol.HostStateEvery {
		p.askHostState(nil)
	}
}

// keepRecent keeps the last Data messages a client got, for a state that
// says some came after it.
func (p *Peer) keepRecent(m Message) {
	if len(p.client.recent) >= maxRecent {
		p.client.recent = append(p.client.recent[:0], p.client.recent[len(p.client.recent)-maxRecent/2:]...)
	}
	p.client.recent = append(p.client.recent, m)
	if p.handoff.snapshot != nil {
		p.handoff.since = append(p.handoff.since, m)
	}
}

// maxRecent bounds the messages a client keeps for keepHostState.
const maxRecent = 4096

// keepHostState keeps the host's state, taken before the last `after`
// messages this client got; the first one from this host replaces the
// app's (and those messages are delivered again after it).
func (p *Peer) keepHostState(data json.RawMessage, after uint64) {
	if len(data) == 0 || string(data) == "null" {
		return
	}
	n := min(int(after), len(p.client.recent))
	p.handoff.snapshot, p.handoff.since = data, append([]Message(nil), p.client.recent[len(p.client.recent)-n:]...)
	if p.client.restored {
		return
	}
	p.client.restored = true
	p.push(callback{kind: cbRestore, raw: data}, p.cfg.OnRestoreState != nil)
	for _, m := range p.handoff.since {
		p.emitMessage(m.From, m.Data, m.Binary)
	}
}

// takeOverState: a new host restores the old host's last state and
// delivers again the messages that came after it.
func (p *Peer) takeOverState() {
	snap, since := p.handoff.snapshot, p.handoff.since
	p.handoff.snapshot, p.handoff.since = nil, nil
	if snap == nil {
		return
	}
	p.push(callback{kind: cbRestore, raw: snap}, p.cfg.OnRestoreState != nil)
	for _, m := range since {
		p.emitMessage(m.From, m.Data, m.Binary)
	}
}
