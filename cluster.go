package p2pstreams

import (
	"context"
	"sync"
	"time"
)

// Optional Store interfaces that let every node of a deployment see and act
// on the sessions that other nodes serve: the admin calls (admin.go) and
// host_changed (events.go). MemoryStore and the Redis store have them all. A
// Server whose Store lacks one keeps that part per node instead: it lists and
// closes only the sessions with a member connected to it, remembers its own
// removals, and reports a host change only when it saw the session end. A
// Store that wraps another (to time it, say) passes these on by having an
// Unwrap() Store method.

// optional returns st as a T, or else the Store it wraps (its Unwrap()
// Store method, as metrics' timing wrapper has) as a T, and so on down.
func optional[T any](st Store) (T, bool) {
	for {
		if v, ok := st.(T); ok {
			return v, true
		}
		u, ok := st.(interface{ Unwrap() Store })
		if !ok {
			var zero T
			return zero, false
		}
		st = u.Unwrap()
	}
}

// Directory is an optional interface of a Store: it keeps each host's last
// report of its links (PeerStates) with its session, and looks sessions up,
// so that Server.Sessions, RemovePeer and CloseSession work from any node.
type Directory interface {
	// Report replaces the report kept with s by states, when host is the
	// connected host of s; otherwise it does nothing. Nil states forget
	// the report (a new host starts without one).
	Report(ctx context.Context, s SessionID, host PeerID, states map[PeerID]string) error
	// Session returns s; ok is false when s has no connected host.
	Session(ctx context.Context, s SessionID) (rec SessionRecord, ok bool, err error)
	// Sessions returns up to limit sessions that have a connected host, in
	// no particular order.
	Sessions(ctx context.Context, limit int) ([]SessionRecord, error)
}

// SessionRecord is a session as a Directory knows it. A store that is also
// a Refusals leaves out of it the peers refused by a removal.
type SessionRecord struct {
	ID   SessionID
	Host PeerID
	// Connected are the members whose presence is live (each holds a
	// WebSocket to some node), host included, sorted.
	Connected []PeerID
	// States is the host's last report (Report); nil without one.
	States map[PeerID]string
	// Reported is when the store got that report.
	Reported time.Time
}

// Refusals is an optional interface of a Store: it keeps the removals of
// RemovePeer and CloseSession, so that every node refuses their joins.
type Refusals interface {
	// Refuse refuses the joins of p to s for d; p "" refuses every peer of s
	// (a closed session).
	Refuse(ctx context.Context, s SessionID, p PeerID, d time.Duration) error
	// Refused reports whether a join of p to s is refused: because s was
	// closed, or because p was removed from it.
	Refused(ctx context.Context, s SessionID, p PeerID) (closed, removed bool, err error)
}

// HostChanges is an optional interface of a Store: it remembers for a while
// the last host of a session that ended, so that the node where the next
// host joins reports host_changed, whichever node saw the end, and only once.
type HostChanges interface {
	// SessionEnded records host as the last host of s, for d.
	SessionEnded(ctx context.Context, s SessionID, host PeerID, d time.Duration) error
	// SessionStarted returns and forgets the host that SessionEnded
	// recorded for s less than its d ago; "" when none. Of two calls, at
	// most one gets it.
	SessionStarted(ctx context.Context, s SessionID) (previous PeerID, err error)
}

// maxRemembered bounds the removals and ended sessions kept in memory: at
// it, the expired ones go, and others too (any, in map order) while it is
// still reached.
const maxRemembered = 100000

// prune makes room for one more entry in m (see maxRemembered); expired
// tells an entry whose time is over.
func prune[K comparable, V any](m map[K]V, expired func(V) bool) {
	if len(m) < maxRemembered {
		return
	}
	for k, v := range m {
		if expired(v) || len(m) >= maxRemembered {
			delete(m, k)
		}
	}
}

// memRefusals is Refusals in memory: MemoryStore's, and a Server's when its
// Store keeps none.
type memRefusals struct {
	mu    sync.Mutex
	until map[string]time.Time // PeerTopic(session, peer or "") → refused until
}

// Refuse implements Refusals.
func (r *memRefusals) Refuse(ctx context.Context, s SessionID, p PeerID, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.until == nil {
		r.until = make(map[string]time.Time)
	}
	prune(r.until, func(u time.Time) bool { return u.Before(now) })
	r.until[PeerTopic(s, p)] = now.Add(d)
	return nil
}

// Refused implements Refusals.
func (r *memRefusals) Refused(ctx context.Context, s SessionID, p PeerID) (closed, removed bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.refused(s, ""), r.refused(s, p), nil
}

// refused: r.mu is held.
func (r *memRefusals) refused(s SessionID, p PeerID) bool {
	until, ok := r.until[PeerTopic(s, p)]
	return ok && time.Now().Before(until)
}

// memHostChanges is HostChanges in memory: MemoryStore's, and a Server's
// when its Store keeps none.
type memHostChanges struct {
	mu    sync.Mutex
	ended map[SessionID]endedSession
}

type endedSession struct {
	host  PeerID
	until time.Time
}

// SessionEnded implements HostChanges.
func (h *memHostChanges) SessionEnded(ctx context.Context, s SessionID, host PeerID, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	now := time.Now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ended == nil {
		h.ended = make(map[SessionID]endedSession)
	}
	prune(h.ended, func(e endedSession) bool { return e.until.Before(now) })
	h.ended[s] = endedSession{host, now.Add(d)}
	return nil
}

// SessionStarted implements HostChanges.
func (h *memHostChanges) SessionStarted(ctx context.Context, s SessionID) (PeerID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.ended[s]
	delete(h.ended, s)
	if !ok || !time.Now().Before(e.until) {
		return "", nil
	}
	return e.host, nil
}
