package p2pstreams

import (
	"context"
	"maps"
	"slices"
	"time"
)

// memReport is a host's report kept with its session (Directory.Report).
type memReport struct {
	host   PeerID
	states map[PeerID]string
	at     time.Time
}

var (
	_ Directory   = (*MemoryStore)(nil)
	_ Refusals    = (*MemoryStore)(nil)
	_ HostChanges = (*MemoryStore)(nil)
)

// Report implements Directory.
func (m *MemoryStore) Report(ctx context.Context, s SessionID, host PeerID, states map[PeerID]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if ss := m.session(s, now); ss != nil && ss.host == host {
		ss.report = nil
		if states != nil {
			ss.report = &memReport{host: host, states: maps.Clone(states), at: now}
		}
	}
	return nil
}

// Session implements Directory.
func (m *MemoryStore) Session(ctx context.Context, s SessionID) (SessionRecord, bool, error) {
	if err := ctx.Err(); err != nil {
		return SessionRecord{}, false, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.session(s, now)
	if ss == nil || ss.host == "" {
		return SessionRecord{}, false, nil
	}
	return m.record(s, ss, now), true, nil
}

// Sessions implements Directory.
func (m *MemoryStore) Sessions(ctx context.Context, limit int) ([]SessionRecord, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []SessionRecord
	for id := range m.sessions {
		if len(out) >= limit {
			break
		}
		if ss := m.session(id, now); ss != nil && ss.host != "" {
			out = append(out, m.record(id, ss, now))
		}
	}
	return out, nil
}

// record is ss as a SessionRecord, without the removed peers; m.mu is held.
func (m *MemoryStore) record(id SessionID, ss *memSession, now time.Time) SessionRecord {
	r := SessionRecord{ID: id, Host: ss.host}
	m.memRefusals.mu.Lock()
	defer m.memRefusals.mu.Unlock()
	for p, mb := range ss.members {
		if now.Before(mb.leaseUntil) && !m.refused(id, p) {
			r.Connected = append(r.Connected, p)
		}
	}
	slices.Sort(r.Connected)
	if rep := ss.report; rep != nil && rep.host == ss.host {
		r.States, r.Reported = maps.Clone(rep.states), rep.at
		maps.DeleteFunc(r.States, func(p PeerID, _ string) bool { return m.refused(id, p) })
	}
	return r
}
