package p2pstreams

import (
	"context"
	"slices"
	"sync"
	"time"
)

// MemoryStore is the in-process Store, the default: the right one for a
// single server process. It keeps nothing on disk and needs no goroutine:
// expired sessions are dropped by the calls that come across them and by a
// sweep that Join runs at most once a minute.
type MemoryStore struct {
	mu        sync.Mutex
	sessions  map[SessionID]*memSession
	lastSweep time.Time

	memRefusals    // removals (memory_directory.go)
	memHostChanges // ended sessions, for host_changed
}

type memSession struct {
	host    PeerID // "" when the session has no host
	members map[PeerID]*memMember
	report  *memReport // the host's last PeerStates (memory_directory.go)

	successor PeerID        // named by the host (SetSuccessor), "" for none
	window    time.Duration // how long a reset waits for successor

	// A reset session waiting for its successor has no members, and
	// admits only heir (who hosts) or previous (the old host, who hosts
	// again) until waitUntil.
	heir, previous PeerID
	waitUntil      time.Time
}

type memMember struct {
	leaseUntil time.Time // connected while now is before it
	expires    time.Time // a member until then
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{sessions: make(map[SessionID]*memSession)}
}

var _ Store = (*MemoryStore)(nil)

const sweepEvery = time.Minute

// Join implements Store.
func (m *MemoryStore) Join(ctx context.Context, s SessionID, p PeerID, o JoinOptions) (PeerID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if now.Sub(m.lastSweep) >= sweepEvery {
		m.sweep(now)
	}
	ss := m.session(s, now)
	if ss != nil && ss.heir != "" {
		if p != ss.heir && p != ss.previous {
			return "", ErrSuccessorPending
		}
		ss = nil // the wait is over: p hosts a fresh session
	}
	if ss == nil {
		ss = &memSession{members: make(map[PeerID]*memMember)}
		m.sessions[s] = ss
	}
	mb := ss.members[p]
	switch {
	case mb != nil && now.Before(mb.leaseUntil):
		return "", ErrPeerConnected
	case mb == nil && o.MaxPeers > 0 && len(ss.members) >= o.MaxPeers:
		return "", ErrSessionFull
	case mb == nil:
		mb = &memMember{}
		ss.members[p] = mb
	}
	mb.leaseUntil = leaseEnd(now, o.Lease)
	if o.Expires.After(mb.expires) {
		mb.expires = o.Expires
	}
	if ss.host == "" {
		ss.host = p
	}
	return ss.host, nil
}

// Refresh implements Store.
func (m *MemoryStore) Refresh(ctx context.Context, s SessionID, p PeerID, lease time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.refresh(s, p, lease, now)
}

// refresh renews p's lease; m.mu is held.
func (m *MemoryStore) refresh(s SessionID, p PeerID, lease time.Duration, now time.Time) error {
	ss := m.session(s, now)
	if ss == nil {
		return ErrNotMember
	}
	mb := ss.members[p]
	if mb == nil || !now.Before(mb.leaseUntil) {
		return ErrNotMember
	}
	mb.leaseUntil = leaseEnd(now, lease)
	return nil
}

var _ BatchRefresher = (*MemoryStore)(nil)

// RefreshBatch implements BatchRefresher: Refresh for each member, under
// one lock.
func (m *MemoryStore) RefreshBatch(ctx context.Context, members []Member, lease time.Duration) []error {
	errs := make([]error, len(members))
	if err := ctx.Err(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, mb := range members {
		errs[i] = m.refresh(mb.Session, mb.Peer, lease, now)
	}
	return errs
}

// Leave implements Store.
func (m *MemoryStore) Leave(ctx context.Context, s SessionID, p PeerID, forget bool) (Departure, error) {
	if err := ctx.Err(); err != nil {
		return Departure{}, err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.session(s, now)
	if ss == nil || ss.members[p] == nil {
		return Departure{}, nil
	}
	if ss.host == p {
		d := Departure{WasHost: true}
		for id, mb := range ss.members {
			if id != p && now.Before(mb.leaseUntil) {
				d.Connected = append(d.Connected, id)
			}
		}
		slices.Sort(d.Connected)
		m.reset(s, ss, now)
		return d, nil
	}
	if forget {
		delete(ss.members, p)
	} else {
		ss.members[p].leaseUntil = time.Time{}
	}
	return Departure{}, nil
}

// SetSuccessor implements Store.
func (m *MemoryStore) SetSuccessor(ctx context.Context, s SessionID, host, successor PeerID, window time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	m.mu.Lock()
	defer m.mu.Unlock()
	ss := m.session(s, now)
	if ss == nil || ss.heir != "" || host == "" || ss.host != host {
		return ErrNotMember
	}
	ss.successor, ss.window = "", 0
	if successor != "" && successor != host && ss.members[successor] != nil {
		ss.successor, ss.window = successor, window
	}
	return nil
}

// reset ends ss, the session s whose host is gone: it is removed, or,
// when its host named a successor that is still a member, replaced by
// one that waits for it. m.mu is held.
func (m *MemoryStore) reset(s SessionID, ss *memSession, now time.Time) {
	if ss.successor == "" || ss.members[ss.successor] == nil || ss.window <= 0 {
		delete(m.sessions, s)
		return
	}
	m.sessions[s] = &memSession{heir: ss.successor, previous: ss.host, waitUntil: now.Add(ss.window)}
}

// session returns s after dropping its expired members, or nil when s does
// not exist or was just found over: its host expired or lost its lease (a
// session waiting for its successor is returned as that, with heir set).
// m.mu is held.
func (m *MemoryStore) session(s SessionID, now time.Time) *memSession {
	ss := m.sessions[s]
	if ss == nil {
		return nil
	}
	if ss.heir != "" {
		if !now.Before(ss.waitUntil) {
			delete(m.sessions, s)
			return nil
		}
		return ss
	}
	for id, mb := range ss.members {
		if !now.Before(mb.expires) {
			delete(ss.members, id)
		}
	}
	if h := ss.members[ss.host]; h == nil || !now.Before(h.leaseUntil) {
		// A host that is gone resets the session (members are told when
		// their own node's Refresh fails), unless it has no host yet.
		if ss.host != "" || len(ss.members) == 0 {
			m.reset(s, ss, now)
			return m.sessions[s]
		}
	}
	return ss
}

func (m *MemoryStore) sweep(now time.Time) {
	m.lastSweep = now
	for s := range m.sessions {
		m.session(s, now)
	}
}

// Len returns the number of live sessions (for tests and metrics); one
// waiting for its successor has no members and does not count.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(time.Now())
	n := 0
	for _, ss := range m.sessions {
		if ss.heir == "" {
			n++
		}
	}
	return n
}

// leaseEnd is now+lease, or a time that never comes for lease <= 0.
func leaseEnd(now time.Time, lease time.Duration) time.Time {
	if lease <= 0 {
		return now.AddDate(100, 0, 0)
	}
	return now.Add(lease)
}

// MemoryBroker is the in-process Broker, the default. Publish calls each
// subscriber's deliver on the publisher's goroutine.
type MemoryBroker struct {
	mu     sync.RWMutex
	topics map[string][]*memSub // copied on write: Publish iterates without the lock
}

type memSub struct{ deliver func([]byte) }

// NewMemoryBroker returns a MemoryBroker with no subscribers.
func NewMemoryBroker() *MemoryBroker {
	return &MemoryBroker{topics: make(map[string][]*memSub)}
}

var _ Broker = (*MemoryBroker)(nil)

// Subscribe implements Broker.
func (b *MemoryBroker) Subscribe(ctx context.Context, topic string, deliver func([]byte)) (func(), error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sub := &memSub{deliver: deliver}
	b.mu.Lock()
	b.topics[topic] = append(slices.Clip(b.topics[topic]), sub)
	b.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			b.mu.Lock()
			defer b.mu.Unlock()
			subs := slices.DeleteFunc(slices.Clone(b.topics[topic]), func(x *memSub) bool { return x == sub })
			if len(subs) == 0 {
				delete(b.topics, topic)
			} else {
				b.topics[topic] = subs
			}
		})
	}, nil
}

// Publish implements Broker.
func (b *MemoryBroker) Publish(ctx context.Context, topic string, msg []byte) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	b.mu.RLock()
	subs := b.topics[topic]
	b.mu.RUnlock()
	for _, s := range subs {
		s.deliver(msg)
	}
	return len(subs), nil
}
