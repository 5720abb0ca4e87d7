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

// keys returns the host, membership and lease keys of s.
func (st *Store) keys(s p2pstreams.SessionID) []string {
	base := st.prefix + "{" + string(s) + "}"
	return []string{base + ":h", base + ":e", base + ":l"}
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
	}
	return "", fmt.Errorf("p2predis: join: unexpected reply %v", res)
}

// Refresh implements p2pstreams.Store.
func (st *Store) Refresh(ctx context.Context, s p2pstreams.SessionID, p p2pstreams.PeerID, lease time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	code, err := refreshScript.Run(ctx, st.rdb, st.keys(s), string(p), leaseMS(lease)).Int()
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
