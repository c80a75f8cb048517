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

-- step opens a bad interval at x when the sweep turns bad, closes it when
-- it turns good; out is a flat list a1, b1, a2, b2, ...
local function step(out, bad, x, open)
  if bad and not open then return x end
  if not bad and open then
    out[#out + 1] = open
    out[#out + 1] = x
    return nil
  end
  return open
end

-- bad_equal: bad set of a window whose intervals all have length len, given
-- their sorted starts and weights (so the ends are sorted too).
local function bad_equal(starts, wts, len, cap, w, t0)
  local out, n, c, open = {}, #starts, 0, nil
  local i = 1
  while i <= n and starts[i] + len <= t0 do i = i + 1 end
  local j = i
  while j <= n do
    local x = starts[j] + len
    if i <= n and starts[i] < x then x = starts[i] end
    while i <= n and starts[i] == x do c = c + wts[i]; i = i + 1 end
    while j < i and starts[j] + len == x do c = c - wts[j]; j = j + 1 end
    open = step(out, c + w > cap, x, open)
  end
  if open then out[#out + 1] = open; out[#out + 1] = NEVER end
  return out
end

local function scores(raw)
  local out = {}
  for i = 2, #raw, 2 do out[#out + 1] = tonumber(raw[i]) end
  return out
end

-- load_window reads the window entries alive after t0: sorted starts and
-- their ops and users weights.
local function load_window(L, t0)
  local raw = redis.call('ZRANGEBYSCORE', K.w, '(' .. s(t0 - L.maxlen), '+inf', 'WITHSCORES')
  local W = {starts = {}, ow = {}, uw = {}}
  for i = 1, #raw, 2 do
    local o, u = string.match(raw[i], '^(%d+):(%d+):')
    local k = #W.starts + 1
    W.starts[k], W.ow[k], W.uw[k] = tonumber(raw[i + 1]), tonumber(o), tonumber(u)
  end
  return W
end

-- bad_gauge: bad set of the gauge from t0 on, walking only the events it
-- needs: C(t0) = #ends after t0 - #starts after t0; then ends (paged, in
-- order) and future starts, until C can never reach the max again.
local function bad_gauge(L, t0)
  local cap = L.gmax
  local fut = scores(redis.call('ZRANGEBYSCORE', K.gs, '(' .. s(t0), '+inf', 'WITHSCORES'))
  local c = redis.call('ZCOUNT', K.gz, '(' .. s(t0), '+inf') - #fut
  local out, open, fi = {}, nil, 1
  if c + 1 > cap then open = t0 end
  local pg = {buf = {}, i = 1, off = 0}
  local function peek()
    if pg.i > #pg.buf then
      pg.buf = scores(redis.call('ZRANGEBYSCORE', K.gz, '(' .. s(t0), '+inf', 'WITHSCORES', 'LIMIT', pg.off, 64))
      pg.off, pg.i = pg.off + #pg.buf, 1
    end
    return pg.buf[pg.i]
  end
  while open or c + (#fut - fi + 1) + 1 > cap do
    local x = peek()
    if not x then break end
    if fi <= #fut and fut[fi] < x then x = fut[fi] end
    while fi <= #fut and fut[fi] == x do c = c + 1; fi = fi + 1 end
    while peek() == x do c = c - 1; pg.i = pg.i + 1 end
    open = step(out, c + 1 > cap, x, open)
  end
  if open then out[#out + 1] = open; out[#out + 1] = NEVER end
  return out
end

-- constraints of a request (weights ops, users; gauge length glen, 0 for
-- none) from t0 on: a list of {len, bad}. A limit whose whole alive weight
-- plus the request's fits its max cannot bind and is skipped (ZCOUNT over
-- w counts every entry, the u key sums every entry's users: upper bounds).
local function constraints(L, t0, ops, users, glen)
  local cs, W = {}, nil
  if ops > 0 then
    for _, win in ipairs(L.ops) do
      local len = win.len + L.margin
      if redis.call('ZCOUNT', K.w, '(' .. s(t0 - len), '+inf') + ops > win.max then
        W = W or load_window(L, t0)
        cs[#cs + 1] = {len = len, bad = bad_equal(W.starts, W.ow, len, win.max, ops, t0)}
      end
    end
  end
  if users > 0 and tonumber(redis.call('GET', K.u) or '0') + users > L.umax then
    local len = L.ulen + L.margin
    W = W or load_window(L, t0)
    cs[#cs + 1] = {len = len, bad = bad_equal(W.starts, W.uw, len, L.umax, users, t0)}
  end
  if glen > 0 and redis.call('ZCARD', K.gz) + 1 > L.gmax then
    cs[#cs + 1] = {len = glen, bad = bad_gauge(L, t0)}
  end
  return cs
end

-- earliest t >= t0 whose interval misses every bad set: while t lies in
-- (a-len, b) of a bad [a,b), jump to b; repeat to a fixed point.
local function earliest(t0, cs)
  local t, ptr, moved = t0, {}, true
  for k = 1, #cs do ptr[k] = 1 end
  while moved and t ~= NEVER do
    moved = false
    for k = 1, #cs do
      local bad, p = cs[k].bad, ptr[k]
      while p <= #bad and bad[p + 1] <= t do p = p + 2 end
      ptr[k] = p
      if p <= #bad and bad[p] < t + cs[k].len then
        t, moved = bad[p + 1], true
        if t == NEVER then break end
      end
    end
  end
  return t
end

local function slot_for(en, L, t0)
  local glen = 0
  if en.hold > 0 then glen = en.hold + L.margin end
  return earliest(t0, constraints(L, t0, en.ops, en.users, glen))
end

-- state returns an entry as {status, slot}; slot 0 while pending.
local function state(en)
  if en.st == 'P' then return {'P', 0} end
  return {en.st, en.slot}
end
