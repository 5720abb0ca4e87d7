package p2predis

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/redis/go-redis/v9"
)

// DefaultPrefix starts every key and channel name unless Options.Prefix is set.
const DefaultPrefix = "p2pstreams:"

// Options configure a Store or a Broker. The zero value (or nil) is ready.
type Options struct {
	// Prefix starts every key and pub/sub channel name, so that several
	// deployments can share one Redis. Default DefaultPrefix.
	Prefix string
}

func (o *Options) prefix() string {
	if o == nil || o.Prefix == "" {
		return DefaultPrefix
	}
	return o.Prefix
}

// Store is a p2pstreams.Store in Redis, shared by every node that uses the
// same Redis and prefix. It is safe for concurrent use.
type Store struct {
	rdb    redis.Scripter
	prefix string
}

var _ p2pstreams.Store = (*Store)(nil)

// NewStore returns a Store that keeps sessions in rdb: a *redis.Client, a
// *redis.Ring or a *redis.ClusterClient (a session's keys share one hash
// tag). The caller keeps rdb and closes it after the server is shut down.
func NewStore(rdb redis.Scripter, o *Options) *Store {
	return &Store{rdb: rdb, prefix: o.prefix()}
}

// keys returns the host, membership, lease, successor and waiting keys of s.
func (st *Store) keys(s p2pstreams.SessionID) []string {
	base := st.prefix + "{" + string(s) + "}"
	return []string{base + ":h", base + ":e", base + ":l", base + ":s", base + ":r"}
}

// leaseMS is d in whole milliseconds, the scripts' unit; a lease under a
// millisecond is still a lease, and d <= 0 (none) stays so.
func leaseMS(d time.Duration) int64 {
	if d > 0 && d < time.Millisecond {
		return 1
	}
	return d.Milliseconds()
}

// Join implements p2pstreams.Store.
func (st *Store) Join(ctx context.Context, s p2pstreams.SessionID, p p2pstreams.PeerID, o p2pstreams.JoinOptions) (p2pstreams.PeerID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	res, err := joinScript.Run(ctx, st.rdb, st.keys(s), string(p), o.MaxPeers, leaseMS(o.Lease), o.Expires.UnixMilli()).Slice()
	if err != nil {
		return "", fmt.Errorf("p2predis: join: %w", err)
	}
	if len(res) != 2 {
		return "", fmt.Errorf("p2predis: join: unexpected reply %v", res)
	}
	switch res[0] {
	case int64(resOK):
		host, _ := res[1].(string)
		return p2pstreams.PeerID(host), nil
	case int64(resConnected):
		return "", p2pstreams.ErrPeerConnected
	case int64(resFull):
		return "", p2pstreams.ErrSessionFull
	case int64(resPending):
		return "", p2pstreams.ErrSuccessorPending
	}
	return "", fmt.Errorf("p2predis: join: unexpected reply %v", res)
}

// Refresh implements p2pstreams.Store.
func (st *Store) Refresh(ctx context.Context, s p2pstreams.SessionID, p p2pstreams.PeerID, lease time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return refreshResult(refreshScript.Run(ctx, st.rdb, st.keys(s), string(p), leaseMS(lease)))
}

var _ p2pstreams.BatchRefresher = (*Store)(nil)

// batchSize bounds the refreshes of one pipeline: a round trip carries at
// most this many scripts, so that one batch never holds Redis for long.
const batchSize = 1000

// pipeliner is what a client needs for RefreshBatch to pipeline: every
// go-redis client (Client, Ring, ClusterClient) has it.
type pipeliner interface {
	Pipeline() redis.Pipeliner
}

// RefreshBatch implements p2pstreams.BatchRefresher: the refresh script
// for every member, pipelined batchSize at a time (a round of 20k leases is
// 20 round trips instead of 20k). A client that cannot pipeline refreshes
// one at a time.
func (st *Store) RefreshBatch(ctx context.Context, members []p2pstreams.Member, lease time.Duration) []error {
	errs := make([]error, len(members))
	pl, ok := st.rdb.(pipeliner)
	for at := 0; at < len(members); at += batchSize {
		chunk := members[at:min(at+batchSize, len(members))]
		if !ok {
			for i, m := range chunk {
				errs[at+i] = st.Refresh(ctx, m.Session, m.Peer, lease)
			}
			continue
		}
		st.refreshPipelined(ctx, pl, chunk, lease, errs[at:])
	}
	return errs
}

// refreshPipelined refreshes members in one pipeline, by the script's hash;
// if Redis does not know the script yet (a restart, a new node), those
// refreshes are sent again with the script's text, which loads it.
func (st *Store) refreshPipelined(ctx context.Context, pl pipeliner, members []p2pstreams.Member, lease time.Duration, errs []error) {
	ms := leaseMS(lease)
	run := func(idx []int, byHash bool) []*redis.Cmd {
		pipe := pl.Pipeline()
		cmds := make([]*redis.Cmd, len(idx))
		for j, i := range idx {
			m := members[i]
			if byHash {
				cmds[j] = refreshScript.EvalSha(ctx, pipe, st.keys(m.Session), string(m.Peer), ms)
			} else {
				cmds[j] = refreshScript.Eval(ctx, pipe, st.keys(m.Session), string(m.Peer), ms)
			}
		}
		pipe.Exec(ctx) // each command carries its own error
		return cmds
	}
	all := make([]int, len(members))
	for i := range all {
		all[i] = i
	}
	var again []int
	for j, cmd := range run(all, true) {
		if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
			again = append(again, all[j])
			continue
		}
		errs[all[j]] = refreshResult(cmd)
	}
	if len(again) > 0 {
		for j, cmd := range run(again, false) {
			errs[again[j]] = refreshResult(cmd)
		}
	}
}

// refreshResult is the error of one refresh script's reply.
func refreshResult(cmd *redis.Cmd) error {
	code, err := cmd.Int()
	switch {
	case err != nil:
		return fmt.Errorf("p2predis: refresh: %w", err)
	case code == resNotMember:
		return p2pstreams.ErrNotMember
	case code != resOK:
		return fmt.Errorf("p2predis: refresh: unexpected reply %d", code)
	}
	return nil
}

// SetSuccessor implements p2pstreams.Store.
func (st *Store) SetSuccessor(ctx context.Context, s p2pstreams.SessionID, host, successor p2pstreams.PeerID, window time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	code, err := successorScript.Run(ctx, st.rdb, st.keys(s), string(host), string(successor), leaseMS(window)).Int()
	switch {
	case err != nil:
		return fmt.Errorf("p2predis: successor: %w", err)
	case code == resNotMember:
		return p2pstreams.ErrNotMember
	case code != resOK:
		return fmt.Errorf("p2predis: successor: unexpected reply %d", code)
	}
	return nil
}

// Leave implements p2pstreams.Store.
func (st *Store) Leave(ctx context.Context, s p2pstreams.SessionID, p p2pstreams.PeerID, forget bool) (p2pstreams.Departure, error) {
	if err := ctx.Err(); err != nil {
		return p2pstreams.Departure{}, err
	}
	f := 0
	if forget {
		f = 1
	}
	res, err := leaveScript.Run(ctx, st.rdb, st.keys(s), string(p), f).Slice()
	if err != nil {
		return p2pstreams.Departure{}, fmt.Errorf("p2predis: leave: %w", err)
	}
	if len(res) == 0 || res[0] != int64(1) {
		return p2pstreams.Departure{}, nil
	}
	d := p2pstreams.Departure{WasHost: true}
	for _, q := range res[1:] {
		if q, ok := q.(string); ok {
			d.Connected = append(d.Connected, p2pstreams.PeerID(q))
		}
	}
	slices.Sort(d.Connected)
	return d, nil
}
