-- search.lua: the slot search, prepended (after common.lua) to the scripts
-- that place requests: reserve, promote, usage.

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

-- load_window reads the window entries alive after t0 in a window whose
-- intervals last len: sorted starts and their weights, ops (0 or 1: Reserve
-- passes min(ops, 1), so the member's first byte is the weight) or users.
local function load_window(t0, len, users)
  local raw = redis.call('ZRANGEBYSCORE', K.w, '(' .. s(t0 - len), '+inf', 'WITHSCORES')
  local starts, wts, n = {}, {}, 0
  for i = 1, #raw, 2 do
    n = n + 1
    starts[n] = tonumber(raw[i + 1])
    if users then
      wts[n] = tonumber(string.match(raw[i], '^%d+:(%d+):'))
    else
      wts[n] = string.byte(raw[i]) - 48
    end
  end
  return starts, wts
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
  -- the first page holds just the ends needed to bring C below the max
  local pg = {buf = {}, i = 1, off = 0, n = math.max(1, math.min(64, c + #fut + 2 - cap))}
  local function peek()
    if pg.i > #pg.buf then
      pg.buf = scores(redis.call('ZRANGEBYSCORE', K.gz, '(' .. s(t0), '+inf', 'WITHSCORES', 'LIMIT', pg.off, pg.n))
      pg.off, pg.i, pg.n = pg.off + #pg.buf, 1, 64
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
-- w counts every entry, M.u sums every entry's users: upper bounds).
local function constraints(L, M, t0, ops, users, glen)
  local cs = {}
  if ops > 0 then
    for _, win in ipairs(L.ops) do
      local len = win.len + L.margin
      if redis.call('ZCOUNT', K.w, '(' .. s(t0 - len), '+inf') + ops > win.max then
        local starts, wts = load_window(t0, len, false)
        cs[#cs + 1] = {len = len, bad = bad_equal(starts, wts, len, win.max, ops, t0)}
      end
    end
  end
  if users > 0 and M.u + users > L.umax then
    local len = L.ulen + L.margin
    local starts, wts = load_window(t0, len, true)
    cs[#cs + 1] = {len = len, bad = bad_equal(starts, wts, len, L.umax, users, t0)}
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

local function slot_for(en, L, M, t0)
  local glen = 0
  if en.hold > 0 then glen = en.hold + L.margin end
  return earliest(t0, constraints(L, M, t0, en.ops, en.users, glen))
end
