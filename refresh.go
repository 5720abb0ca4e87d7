package p2pstreams

import "context"

// refreshBatch bounds the leases renewed by one RefreshBatch call, each
// call bounded by StoreTimeout.
const refreshBatch = 4096

// refreshRound renews the presence lease of every joined connection once:
// in batches when the store is a BatchRefresher, one by one otherwise.
func (s *Server) refreshRound() {
	conns := s.snapshot()
	br, ok := optional[BatchRefresher](s.store)
	if !ok {
		for _, c := range conns {
			if s.refreshCtx.Err() != nil {
				return // Shutdown started
			}
			c.refresh()
		}
		return
	}
	type lease struct {
		c  *conn
		mb *membership
	}
	leases := make([]lease, 0, min(len(conns), refreshBatch))
	members := make([]Member, 0, cap(leases))
	flush := func() {
		if len(leases) == 0 {
			return
		}
		ctx, cancel := context.WithTimeout(s.refreshCtx, s.o.StoreTimeout) // ends when Shutdown starts
		errs := br.RefreshBatch(ctx, members, s.o.Lease)
		cancel()
		for i, l := range leases {
			l.c.refreshed(l.mb, errs[i])
		}
		leases, members = leases[:0], members[:0]
	}
	for _, c := range conns {
		mb := c.leased()
		if mb == nil {
			continue
		}
		leases = append(leases, lease{c, mb})
		members = append(members, Member{Session: mb.session, Peer: mb.peer})
		if len(leases) == refreshBatch {
			flush()
			if s.refreshCtx.Err() != nil {
				return // Shutdown started
			}
		}
	}
	flush()
}
