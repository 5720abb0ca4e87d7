package p2predis

import "github.com/redis/go-redis/v9"

// The scripts share a prologue that reads the Redis clock, drops ended
// memberships and resets the session when its host is gone. KEYS are
// h (host), e (membership ends), l (lease ends), sk (the successor the host
// named: a hash of p, the peer, and w, the window in ms) and r (a reset
// session waiting for its successor: a hash of heir and prev, the old
// host, that expires with the window); ARGV[1] is the peer.
//
// Times are Unix milliseconds from TIME (scripts may call it since Redis 5:
// they are replicated by effects). A lease is live while its end is after
// now; a membership while its end is after now.
const prologue = `
local h, e, l, sk, r = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Drop ended memberships (in chunks: unpack has a stack limit).
local ended = redis.call('ZRANGEBYSCORE', e, '-inf', now)
if #ended > 0 then
  redis.call('ZREMRANGEBYSCORE', e, '-inf', now)
  for i = 1, #ended, 1000 do
    redis.call('ZREM', l, unpack(ended, i, math.min(i + 999, #ended)))
  end
end

-- A reset removes the session; when its host named a successor that is
-- still a member, the session waits for it (r) for the window.
local function reset(prev)
  local s = redis.call('HMGET', sk, 'p', 'w')
  local heir = s[1] and redis.call('ZSCORE', e, s[1]) and s[1]
  redis.call('DEL', h, e, l, sk)
  if heir then
    redis.call('HSET', r, 'heir', heir, 'prev', prev)
    redis.call('PEXPIRE', r, s[2])
  end
end

-- A host whose membership ended or whose lease lapsed resets the session.
local host = redis.call('GET', h)
if host then
  local lease = redis.call('ZSCORE', l, host)
  if not lease or tonumber(lease) <= now or not redis.call('ZSCORE', e, host) then
    reset(host)
    host = false
  end
end

local function connected(p)
  local lease = redis.call('ZSCORE', l, p)
  return lease and tonumber(lease) > now and redis.call('ZSCORE', e, p)
end

local function leaseEnd(ms)
  ms = tonumber(ms)
  if ms <= 0 then return now + 3153600000000 end -- no lease: 100 years
  return now + ms
end
`

// Script results.
const (
	resOK        = 0
	resConnected = 1
	resFull      = 2
	resNotMember = 3
	resPending   = 4
)

// joinScript: ARGV peer, maxPeers, lease ms, expires (Unix ms).
// Returns {code, host}.
var joinScript = redis.NewScript(prologue + `
local p, maxPeers = ARGV[1], tonumber(ARGV[2])
if not host then
  local w = redis.call('HMGET', r, 'heir', 'prev')
  if w[1] then
    if p ~= w[1] and p ~= w[2] then return {4, w[1]} end
    redis.call('DEL', r)
  end
end
if connected(p) then return {1, ''} end
if not redis.call('ZSCORE', e, p) and maxPeers > 0 and redis.call('ZCARD', e) >= maxPeers then
  return {2, ''}
end
redis.call('ZADD', e, 'GT', ARGV[4], p)
redis.call('ZADD', l, leaseEnd(ARGV[3]), p)
if not host then
  host = p
  redis.call('SET', h, p)
end
-- The session lives until its last membership ends.
local last = redis.call('ZRANGE', e, -1, -1, 'WITHSCORES')
if #last == 0 then
  redis.call('DEL', h, e, l, sk) -- the joiner's own membership had ended already
else
  for _, k in ipairs({h, e, l, sk}) do redis.call('PEXPIREAT', k, last[2]) end
end
return {0, host}
`)

// refreshScript: ARGV peer, lease ms. Returns a code.
var refreshScript = redis.NewScript(prologue + `
local p = ARGV[1]
if not connected(p) then return 3 end
redis.call('ZADD', l, leaseEnd(ARGV[2]), p)
return 0
`)

// leaveScript: ARGV peer, forget (0 or 1). Returns {wasHost, connected...}.
var leaveScript = redis.NewScript(prologue + `
local p = ARGV[1]
if not redis.call('ZSCORE', e, p) then return {0} end
if p == host then
  local out = {1}
  for _, q in ipairs(redis.call('ZRANGEBYSCORE', l, '(' .. now, '+inf')) do
    if q ~= p then table.insert(out, q) end
  end
  reset(p)
  return out
end
redis.call('ZREM', l, p)
if ARGV[2] == '1' then redis.call('ZREM', e, p) end
return {0}
`)

// successorScript: ARGV host, successor, window ms. Returns a code.
var successorScript = redis.NewScript(prologue + `
local succ, w = ARGV[2], tonumber(ARGV[3])
if not host or host ~= ARGV[1] then return 3 end
if succ == '' or succ == host or w <= 0 or not redis.call('ZSCORE', e, succ) then
  redis.call('DEL', sk)
  return 0
end
redis.call('HSET', sk, 'p', succ, 'w', w)
local ttl = redis.call('PTTL', h)
if ttl > 0 then redis.call('PEXPIRE', sk, ttl) end
return 0
`)
