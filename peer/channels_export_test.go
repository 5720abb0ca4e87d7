package peer

import (
	"encoding/json"

	"github.com/p2pstreams/p2pstreams/protocol"
)

// RogueChannel opens a DataChannel named name on p's link to remote
// outside the protocol (no declaration), and sends text on it as a Data
// message once it opens: what a receiver that does not know the channel
// must report.
func RogueChannel(p *Peer, remote protocol.PeerID, name, text string) error {
	return onLink(p, remote, func(l *link) error {
		dc, err := l.pc.CreateDataChannel(name, nil)
		if err != nil {
			return err
		}
		data, _ := json.Marshal(text)
		dc.OnOpen(func() { dc.SendText(encodeData(data)) })
		return nil
	})
}

// KnowsChannel reports whether p knows the named channel: its app opened
// it, or a host opened it to p.
func KnowsChannel(p *Peer, name string) bool {
	p.chans.mu.Lock()
	defer p.chans.mu.Unlock()
	_, ok := p.chans.specs[name]
	return ok
}
