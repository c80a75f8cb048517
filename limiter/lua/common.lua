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
--   KEYS[8] b  STRING blocked-until (ms)
--   KEYS[9] u  STRING sum of users over the entries in w (fast-path bound)
-- Times are integer milliseconds from Redis TIME. A limits block in ARGV is:
--   margin, grace, horizon, users_len, users_max, gauge_max, n_ops,
--   then n_ops pairs (len, max); lengths exclude the margin.

local K = {e = KEYS[1], w = KEYS[2], r = KEYS[3], q = KEYS[4],
  gz = KEYS[5], gs = KEYS[6], gm = KEYS[7], b = KEYS[8], u = KEYS[9]}
local NEVER = math.huge

local function s(x) return string.format('%d', x) end

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function blocked()
  return tonumber(redis.call('GET', K.b) or '0')
end

local function parse_limits(a, i)
  local L = {margin = tonumber(a[i]), grace = tonumber(a[i + 1]), horizon = tonumber(a[i + 2]),
    ulen = tonumber(a[i + 3]), umax = tonumber(a[i + 4]), gmax = tonumber(a[i + 5]), ops = {}}
  L.maxlen = L.ulen + L.margin
  for k = 1, tonumber(a[i + 6]) do
    local len = tonumber(a[i + 5 + 2 * k])
    L.ops[k] = {len = len, max = tonumber(a[i + 6 + 2 * k])}
    if len + L.margin > L.maxlen then L.maxlen = len + L.margin end
  end
  return L
end

local function decode(id, raw)
  if not raw then return nil end
  local st, slot, order, enq, prio, ops, users, hold, seg = string.match(raw,
    '^(%a)|(%-?%d+)|(%-?%d+)|(%-?%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(.*)$')
  return {id = id, st = st, slot = tonumber(slot), order = tonumber(order), enq = tonumber(enq),
    prio = tonumber(prio), ops = tonumber(ops), users = tonumber(users), hold = tonumber(hold), seg = seg}
end

local function get(id) return decode(id, redis.call('HGET', K.e, id)) end

local function put(en)
  redis.call('HSET', K.e, en.id, en.st .. '|' .. s(en.slot) .. '|' .. s(en.order) .. '|' .. s(en.enq) ..
    '|' .. s(en.prio) .. '|' .. s(en.ops) .. '|' .. s(en.users) .. '|' .. s(en.hold) .. '|' .. en.seg)
end

local function member(en) return s(en.ops) .. ':' .. s(en.users) .. ':' .. en.id end
local function gkey(en) return en.id .. '@' .. s(en.slot) end

-- unreserve removes the intervals of a reserved entry (not its record).
local function unreserve(en)
  redis.call('ZREM', K.w, member(en))
  if en.users > 0 then redis.call('DECRBY', K.u, s(en.users)) end
  redis.call('ZREM', K.r, en.id)
  if en.hold > 0 then
    local g = gkey(en)
    redis.call('ZREM', K.gz, g)
    redis.call('ZREM', K.gs, g)
    redis.call('HDEL', K.gm, g)
  end
end

local function reserve(en, slot, L)
  en.st, en.slot = 'R', slot
  put(en)
  redis.call('ZADD', K.w, s(slot), member(en))
  if en.users > 0 then redis.call('INCRBY', K.u, s(en.users)) end
  redis.call('ZADD', K.r, s(slot), en.id)
  if en.hold > 0 then
    local g = gkey(en)
    redis.call('ZADD', K.gz, s(slot + en.hold + L.margin), g)
    redis.call('ZADD', K.gs, s(slot), g)
    redis.call('HSET', K.gm, g, en.seg)
  end
end

-- trim drops uncommitted reservations past their grace, records whose
-- windows all ended, and gauge intervals that ended.
local function trim(now, L)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', K.r, '-inf', '(' .. s(now - L.grace))) do
    local en = get(id)
    unreserve(en)
    redis.call('HDEL', K.e, id)
  end
  local old = redis.call('ZRANGEBYSCORE', K.w, '-inf', s(now - L.maxlen))
  if #old > 0 then
    local users = 0
    for _, m in ipairs(old) do
      local u, id = string.match(m, '^%d+:(%d+):(.*)$')
      users = users + tonumber(u)
      redis.call('HDEL', K.e, id)
    end
    if users > 0 then redis.call('DECRBY', K.u, s(users)) end
    redis.call('ZREMRANGEBYSCORE', K.w, '-inf', s(now - L.maxlen))
  end
  local ended = redis.call('ZRANGEBYSCORE', K.gz, '-inf', s(now))
  if #ended > 0 then
    for _, g in ipairs(ended) do
      redis.call('ZREM', K.gs, g)
      redis.call('HDEL', K.gm, g)
    end
    redis.call('ZREMRANGEBYSCORE', K.gz, '-inf', s(now))
  end
end

-- state returns an entry as {status, slot}; slot 0 while pending.
local function state(en)
  if en.st == 'P' then return {'P', 0} end
  return {en.st, en.slot}
end
