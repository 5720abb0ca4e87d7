package p2predis

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/p2pstreams/p2pstreams"
	"github.com/redis/go-redis/v9"
)

// The Store's optional interfaces (p2pstreams.Directory, Refusals,
// HostChanges), so that the admin calls and host_changed work across nodes.
// Their keys share the session's hash tag:
//
//	{SESSION}:p  hash    the host's last report: host, at (Unix ms), states (JSON)
//	{SESSION}:d  hash    peer (or "" for the whole session) → refused until (Unix ms)
//	{SESSION}:x  string  the host of the session that ended, for HostChanges' window

var (
	_ p2pstreams.Directory   = (*Store)(nil)
	_ p2pstreams.Refusals    = (*Store)(nil)
	_ p2pstreams.HostChanges = (*Store)(nil)
)

// key is the key of s with the given suffix (":p", ":d", ":x").
func (st *Store) key(s p2pstreams.SessionID, suffix string) string {
	return st.prefix + "{" + string(s) + "}" + suffix
}

// reportScript: KEYS the prologue's, then p; ARGV host, states (JSON; ""
// forgets the report). The report lives as long as the session's keys.
var reportScript = redis.NewScript(prologue + `
local p = KEYS[#KEYS]
if host ~= ARGV[1] or not connected(ARGV[1]) then return 0 end
if ARGV[2] == '' then return redis.call('DEL', p) end
redis.call('HSET', p, 'host', ARGV[1], 'at', now, 'states', ARGV[2])
local ttl = redis.call('PTTL', h)
if ttl > 0 then redis.call('PEXPIRE', p, ttl) end
return 1
`)

// sessionScript: KEYS the prologue's, then p and d. Returns {} when the
// session has no connected host, else {host, {report host, at, states},
// {refused...}, {connected...}}.
var sessionScript = redis.NewScript(prologue + `
if not host then return {} end
local rep = redis.call('HMGET', KEYS[#KEYS - 1], 'host', 'at', 'states')
local refused = {}
local d = redis.call('HGETALL', KEYS[#KEYS])
for i = 1, #d, 2 do
  if d[i] ~= '' and tonumber(d[i + 1]) > now then table.insert(refused, d[i]) end
end
return {host, {rep[1] or '', rep[2] or '', rep[3] or ''}, refused, redis.call('ZRANGEBYSCORE', l, '(' .. now, '+inf')}
`)

// Report implements p2pstreams.Directory.
func (st *Store) Report(ctx context.Context, s p2pstreams.SessionID, host p2pstreams.PeerID, states map[p2pstreams.PeerID]string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	var b []byte
	if states != nil {
		var err error
		if b, err = json.Marshal(states); err != nil {
			return fmt.Errorf("p2predis: report: %w", err)
		}
	}
	if err := reportScript.Run(ctx, st.rdb, append(st.keys(s), st.key(s, ":p")), string(host), b).Err(); err != nil {
		return fmt.Errorf("p2predis: report: %w", err)
	}
	return nil
}

func (st *Store) sessionKeys(s p2pstreams.SessionID) []string {
	return append(st.keys(s), st.key(s, ":p"), st.key(s, ":d"))
}

// Session implements p2pstreams.Directory.
func (st *Store) Session(ctx context.Context, s p2pstreams.SessionID) (p2pstreams.SessionRecord, bool, error) {
	if err := ctx.Err(); err != nil {
		return p2pstreams.SessionRecord{}, false, err
	}
	return sessionRecord(s, sessionScript.Run(ctx, st.rdb, st.sessionKeys(s)))
}

// scanner is what Sessions needs of a client: a *redis.Client scans; a
// *redis.ClusterClient (a clusterScanner) scans each of its masters.
type scanner interface {
	Scan(ctx context.Context, cursor uint64, match string, count int64) *redis.ScanCmd
}

type clusterScanner interface {
	ForEachMaster(ctx context.Context, fn func(ctx context.Context, client *redis.Client) error) error
}

// Sessions implements p2pstreams.Directory: it SCANs the keyspace for the
// sessions' host keys (a cost that grows with every key of the Redis, paid
// per call: an admin's, not the signaling path's), then reads up to limit
// of them, pipelined.
func (st *Store) Sessions(ctx context.Context, limit int) ([]p2pstreams.SessionRecord, error) {
	ids, err := st.scanSessions(ctx, limit)
	if err != nil {
		return nil, fmt.Errorf("p2predis: sessions: %w", err)
	}
	out := make([]p2pstreams.SessionRecord, 0, len(ids))
	pl, ok := st.rdb.(pipeliner)
	if !ok {
		for _, id := range ids {
			rec, live, err := st.Session(ctx, id)
			if err != nil {
				return nil, err
			}
			if live {
				out = append(out, rec)
			}
		}
		return out, nil
	}
	if err := sessionScript.Load(ctx, st.rdb).Err(); err != nil {
		return nil, fmt.Errorf("p2predis: sessions: %w", err)
	}
	for at := 0; at < len(ids); at += batchSize {
		chunk := ids[at:min(at+batchSize, len(ids))]
		pipe := pl.Pipeline()
		cmds := make([]*redis.Cmd, len(chunk))
		for i, id := range chunk {
			cmds[i] = sessionScript.EvalSha(ctx, pipe, st.sessionKeys(id))
		}
		pipe.Exec(ctx) // each command carries its own error
		for i, cmd := range cmds {
			rec, live, err := sessionRecord(chunk[i], cmd)
			if err != nil {
				return nil, err
			}
			if live {
				out = append(out, rec)
			}
		}
	}
	return out, nil
}

// scanSessions returns the ids of up to limit sessions that have a host key.
func (st *Store) scanSessions(ctx context.Context, limit int) ([]p2pstreams.SessionID, error) {
	match := globEscape(st.prefix) + "{*}:h"
	seen := map[p2pstreams.SessionID]bool{}
	var ids []p2pstreams.SessionID
	scan := func(ctx context.Context, sc scanner) error {
		var cursor uint64
		for {
			keys, next, err := sc.Scan(ctx, cursor, match, 1000).Result()
			if err != nil {
				return err
			}
			for _, k := range keys {
				id := p2pstreams.SessionID(strings.TrimSuffix(strings.TrimPrefix(k, st.prefix+"{"), "}:h"))
				if len(ids) < limit && !seen[id] {
					seen[id] = true
					ids = append(ids, id)
				}
			}
			if cursor = next; cursor == 0 || len(ids) >= limit {
				return nil
			}
		}
	}
	switch c := st.rdb.(type) {
	case clusterScanner:
		var mu sync.Mutex // ForEachMaster runs fn concurrently
		err := c.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			return scan(ctx, node)
		})
		return ids, err
	case scanner:
		return ids, scan(ctx, c)
	}
	return nil, fmt.Errorf("the Redis client cannot SCAN")
}

// globEscape escapes the glob characters of a SCAN MATCH pattern.
func globEscape(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// sessionRecord decodes sessionScript's reply, without the refused peers.
func sessionRecord(s p2pstreams.SessionID, cmd *redis.Cmd) (p2pstreams.SessionRecord, bool, error) {
	res, err := cmd.Slice()
	if err != nil {
		return p2pstreams.SessionRecord{}, false, fmt.Errorf("p2predis: session: %w", err)
	}
	if len(res) == 0 {
		return p2pstreams.SessionRecord{}, false, nil
	}
	bad := fmt.Errorf("p2predis: session: unexpected reply %v", res)
	host, _ := res[0].(string)
	rep, _ := res[1].([]any)
	refusedL, _ := res[2].([]any)
	connected, _ := res[3].([]any)
	if len(res) != 4 || host == "" || len(rep) != 3 {
		return p2pstreams.SessionRecord{}, false, bad
	}
	refused := map[p2pstreams.PeerID]bool{}
	for _, p := range refusedL {
		if p, ok := p.(string); ok {
			refused[p2pstreams.PeerID(p)] = true
		}
	}
	rec := p2pstreams.SessionRecord{ID: s, Host: p2pstreams.PeerID(host)}
	for _, p := range connected {
		if p, ok := p.(string); ok && !refused[p2pstreams.PeerID(p)] {
			rec.Connected = append(rec.Connected, p2pstreams.PeerID(p))
		}
	}
	slices.Sort(rec.Connected)
	if rh, _ := rep[0].(string); rh == host {
		at, _ := rep[1].(string)
		ms, err := strconv.ParseInt(at, 10, 64)
		states, _ := rep[2].(string)
		if err != nil || json.Unmarshal([]byte(states), &rec.States) != nil {
			return p2pstreams.SessionRecord{}, false, bad
		}
		for p := range rec.States {
			if refused[p] {
				delete(rec.States, p)
			}
		}
		rec.Reported = time.UnixMilli(ms)
	}
	return rec, true, nil
}

// refuseScript: KEYS d; ARGV peer ("" for the session), ms. The hash lives
// until its last refusal ends.
var refuseScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ms = tonumber(ARGV[2])
redis.call('HSET', KEYS[1], ARGV[1], now + ms)
if redis.call('PTTL', KEYS[1]) < ms then redis.call('PEXPIRE', KEYS[1], ms) end
return 1
`)

// refusedScript: KEYS d; ARGV peer. Returns {closed, removed} as 0 or 1.
var refusedScript = redis.NewScript(`
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local v = redis.call('HMGET', KEYS[1], '', ARGV[1])
local out = {0, 0}
for i = 1, 2 do
  if v[i] and tonumber(v[i]) > now then out[i] = 1 end
end
return out
`)

// Refuse implements p2pstreams.Refusals.
func (st *Store) Refuse(ctx context.Context, s p2pstreams.SessionID, p p2pstreams.PeerID, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := refuseScript.Run(ctx, st.rdb, []string{st.key(s, ":d")}, string(p), max(1, leaseMS(d))).Err(); err != nil {
		return fmt.Errorf("p2predis: refuse: %w", err)
	}
	return nil
}

// Refused implements p2pstreams.Refusals.
func (st *Store) Refused(ctx context.Context, s p2pstreams.SessionID, p p2pstreams.PeerID) (closed, removed bool, err error) {
	if err := ctx.Err(); err != nil {
		return false, false, err
	}
	res, err := refusedScript.Run(ctx, st.rdb, []string{st.key(s, ":d")}, string(p)).Int64Slice()
	if err != nil {
		return false, false, fmt.Errorf("p2predis: refused: %w", err)
	}
	if len(res) != 2 {
		return false, false, fmt.Errorf("p2predis: refused: unexpected reply %v", res)
	}
	return res[0] == 1, res[1] == 1, nil
}

// endedScript: KEYS x; ARGV host, ms.
var endedScript = redis.NewScript(`redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1`)

// startedScript: KEYS x. Returns the host recorded, or "", and deletes it.
var startedScript = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return '' end
redis.call('DEL', KEYS[1])
return v
`)

// SessionEnded implements p2pstreams.HostChanges.
func (st *Store) SessionEnded(ctx context.Context, s p2pstreams.SessionID, host p2pstreams.PeerID, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := endedScript.Run(ctx, st.rdb, []string{st.key(s, ":x")}, string(host), max(1, leaseMS(d))).Err(); err != nil {
		return fmt.Errorf("p2predis: session ended: %w", err)
	}
	return nil
}

// SessionStarted implements p2pstreams.HostChanges.
func (st *Store) SessionStarted(ctx context.Context, s p2pstreams.SessionID) (p2pstreams.PeerID, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	prev, err := startedScript.Run(ctx, st.rdb, []string{st.key(s, ":x")}).Text()
	if err != nil {
		return "", fmt.Errorf("p2predis: session started: %w", err)
	}
	return p2pstreams.PeerID(prev), nil
}
