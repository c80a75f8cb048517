-- common.lua: helpers prepended to every limiter script.
--
-- Every script takes the same KEYS, all under segq:{<ws>}:lim: (one hash tag):
--   KEYS[1] e  HASH  id -> "S|slot|order|enq|prio|ops|users|hold|segment"
--                    S is R (reserved), P (pending) or C (committed)
--   KEYS[2] w  ZSET  "ops:users:id" scored by slot, for reserved+committed
--   KEYS[3] r  ZSET  id scored by slot, reserved and not committed
--   KEYS[4] q  ZSET  id scored by order (enqueued_at + level*aging), pending
--   KEYS[5] gz ZSET  "id@slot" scored by the end of its active-segment interval
--   KEYS[6] gs ZSET  "id@slot" scored by the start of that interval
--   KEYS[7] gm HASH  "id@slot" -> segment of that interval
--   KEYS[8] m  HASH  b: blocked-until (ms); u: sum of users over w;
--                    r, w, g: lower bounds of the smallest score of r, w and
--                    gz ("n": the set is empty; missing: unknown). They let
--                    a script skip trimming when nothing can be due.
--                    h: an upper bound of the smallest score of q, present
--                    only while q is not empty (so a request ordering
--                    after h waits, without reading q).
--                    p, pf: a lower bound of the earliest slot of q's head
--                    under the limits pf (the limits block's third
--                    argument), minus their horizon: before p, Promote has
--                    nothing to hand out and can say so without searching.
--                    p is deleted (which voids pf) whenever the head changes
--                    or intervals are freed; adding intervals, time passing
--                    and trimming ended intervals only make the earliest
--                    slot later.
-- Times are integer milliseconds from Redis TIME. A limits block in ARGV is
-- three arguments: grace, maxlen (longest window + margin), and the string
-- "margin horizon users_len users_max gauge_max n_ops len1 max1 ..."; lengths
-- exclude the margin.

local K = {e = KEYS[1], w = KEYS[2], r = KEYS[3], q = KEYS[4],
  gz = KEYS[5], gs = KEYS[6], gm = KEYS[7], m = KEYS[8]}
local NEVER = math.huge

local function s(x) return string.format('%d', x) end

-- meta reads the m hash: M.b blocked-until, M.u users sum, M.r/M.w/M.g/M.h
-- the raw bounds (false when unknown or absent).
local function meta()
  local v = redis.call('HMGET', K.m, 'b', 'u', 'r', 'w', 'g', 'h', 'p')
  return {b = tonumber(v[1]) or 0, u = tonumber(v[2]) or 0, r = v[3], w = v[4], g = v[5], h = v[6], p = v[7]}
end

local function parse_limits(a, i)
  local v = {}
  for x in string.gmatch(a[i + 2], '%S+') do v[#v + 1] = tonumber(x) end
  local L = {grace = tonumber(a[i]), maxlen = tonumber(a[i + 1]), margin = v[1], horizon = v[2],
    ulen = v[3], umax = v[4], gmax = v[5], ops = {}}
  for k = 1, v[6] do
    L.ops[k] = {len = v[5 + 2 * k], max = v[6 + 2 * k]}
  end
  return L
end

-- Records. A record is {id, st, slot, rest}: rest is the immutable tail
-- "order|enq|prio|ops|users|hold|segment", kept as a string; fill() parses
-- it when a script needs the numbers.
local function get(id)
  local raw = redis.call('HGET', K.e, id)
  if not raw then return nil end
  local st, slot, rest = string.match(raw, '^(%a)|(%-?%d+)|(.*)$')
  return {id = id, st = st, slot = tonumber(slot), rest = rest}
end

local function fill(en)
  local order, ops, users, hold, seg = string.match(en.rest, '^(%-?%d+)|%-?%d+|%d+|(%d+)|(%d+)|(%d+)|(.*)$')
  en.order, en.ops, en.users, en.hold, en.seg = tonumber(order), tonumber(ops), tonumber(users), tonumber(hold), seg
  return en
end

local function encode(en) return en.st .. '|' .. s(en.slot) .. '|' .. en.rest end
local function put(en) redis.call('HSET', K.e, en.id, encode(en)) end

local function member(en) return s(en.ops) .. ':' .. s(en.users) .. ':' .. en.id end
local function gkey(en) return en.id .. '@' .. s(en.slot) end

-- lower sets bound f of M to x when x is below it (a known-empty set has
-- no bound); unknown bounds stay unknown. Returns the fields to write.
local function lower(M, f, x, out)
  local b = M[f]
  if b and (b == 'n' or x < tonumber(b)) then
    M[f] = s(x)
    out[#out + 1] = f
    out[#out + 1] = M[f]
  end
end

-- unreserve removes the intervals of a reserved entry (not its record).
-- Removing never lowers a set's smallest score, so the r, w, g bounds stay
-- valid; the head's slot may get earlier, so p goes.
local function unreserve(en, M)
  if M.p then redis.call('HDEL', K.m, 'p'); M.p = false end
  redis.call('ZREM', K.w, member(en))
  if en.users > 0 then M.u = M.u - en.users; redis.call('HSET', K.m, 'u', s(M.u)) end
  redis.call('ZREM', K.r, en.id)
  if en.hold > 0 then
    local g = gkey(en)
    redis.call('ZREM', K.gz, g)
    redis.call('ZREM', K.gs, g)
    redis.call('HDEL', K.gm, g)
  end
end

local function reserve(en, slot, L, M)
  en.st, en.slot = 'R', slot
  put(en)
  redis.call('ZADD', K.w, s(slot), member(en))
  redis.call('ZADD', K.r, s(slot), en.id)
  local out = {}
  if en.users > 0 then M.u = M.u + en.users; out[1] = 'u'; out[2] = s(M.u) end
  lower(M, 'r', slot, out)
  lower(M, 'w', slot, out)
  if en.hold > 0 then
    local g, e = gkey(en), slot + en.hold + L.margin
    redis.call('ZADD', K.gz, s(e), g)
    redis.call('ZADD', K.gs, s(slot), g)
    redis.call('HSET', K.gm, g, en.seg)
    lower(M, 'g', e, out)
  end
  if #out > 0 then redis.call('HSET', K.m, unpack(out)) end
end

-- due: may a set with bound b hold a score <= x?
local function due(b, x)
  if not b then return true end
  return b ~= 'n' and tonumber(b) <= x
end

-- sum_users recomputes the users sum over w (when m was lost or never set).
local function sum_users()
  local u = 0
  for _, m in ipairs(redis.call('ZRANGE', K.w, 0, -1)) do
    u = u + tonumber(string.match(m, '^%d+:(%d+):'))
  end
  return u
end

local function first(key)
  local v = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')[2]
  if v then return s(tonumber(v)) end
  return 'n'
end

-- trim drops uncommitted reservations past their grace, records whose
-- windows all ended, and gauge intervals that ended. It reads nothing but
-- M when the bounds say nothing is due (then it would change nothing).
-- ARGV[i], ARGV[i+1] are the limits block's grace and maxlen.
local function trim(now, M, i)
  local grace, maxlen = tonumber(ARGV[i]), tonumber(ARGV[i + 1])
  if not (due(M.r, now - grace - 1) or due(M.w, now - maxlen) or due(M.g, now)) then return end
  if not M.w then M.u = sum_users() end
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.r, '-inf', '(' .. s(now - grace))) do
    local en = fill(get(id))
    unreserve(en, M)
    redis.call('HDEL', K.e, id)
  end
  local old = redis.call('ZRANGEBYSCORE', K.w, '-inf', s(now - maxlen))
  if #old > 0 then
    local users = 0
    for _, m in ipairs(old) do
      local u, id = string.match(m, '^%d+:(%d+):(.*)$')
      users = users + tonumber(u)
      redis.call('HDEL', K.e, id)
    end
    M.u = M.u - users
    redis.call('ZREMRANGEBYSCORE', K.w, '-inf', s(now - maxlen))
  end
  local ended = redis.call('ZRANGEBYSCORE', K.gz, '-inf', s(now))
  if #ended > 0 then
    for _, g in ipairs(ended) do
      redis.call('ZREM', K.gs, g)
      redis.call('HDEL', K.gm, g)
    end
    redis.call('ZREMRANGEBYSCORE', K.gz, '-inf', s(now))
  end
  M.r, M.w, M.g = first(K.r), first(K.w), first(K.gz)
  redis.call('HSET', K.m, 'u', s(M.u), 'r', M.r, 'w', M.w, 'g', M.g)
end

-- sync_head sets the h bound of m to q's smallest score after q lost
-- members (or got ones the bound does not cover).
-- The head may have changed, so the p bound goes.
local function sync_head()
  local v = redis.call('ZRANGE', K.q, 0, 0, 'WITHSCORES')[2]
  if v then
    redis.call('HSET', K.m, 'h', s(tonumber(v)))
    redis.call('HDEL', K.m, 'p')
  else
    redis.call('HDEL', K.m, 'h', 'p')
  end
end

-- head_slot records the p bound: slot is the earliest slot of q's head
-- under the limits L, parsed from the limits block at ARGV[i].
local function head_slot(slot, L, i)
  if slot ~= NEVER then redis.call('HSET', K.m, 'p', s(slot - L.horizon), 'pf', ARGV[i + 2]) end
end

-- state returns an entry as {status, slot}; slot 0 while pending.
local function state(en)
  if en.st == 'P' then return {'P', 0} end
  return {en.st, en.slot}
end
