-- usage.lua: usage of every limit now (trims first, like every script
-- that takes limits).
-- KEYS: see common.lua.
-- ARGV[1..3] limits block.
-- Returns {now, users_used, active, next_slot (-1 none), reserved, pending,
-- blocked_until, ops_used_1, ..., ops_used_n}.
local L = parse_limits(ARGV, 1)
local now = clock()
local M = meta()
trim(now, M, 1)
local ops, users = {}, 0
for k = 1, #L.ops do ops[k] = 0 end
local raw = redis.call('ZRANGEBYSCORE', K.w, '(' .. s(now - L.maxlen), s(now), 'WITHSCORES')
for i = 1, #raw, 2 do
  local o, u = string.match(raw[i], '^(%d+):(%d+):')
  local slot = tonumber(raw[i + 1])
  for k, win in ipairs(L.ops) do
    if slot > now - win.len then ops[k] = ops[k] + tonumber(o) end
  end
  if slot > now - L.ulen then users = users + tonumber(u) end
end
local b = M.b
local nxt = -1
local fits = L.umax >= 1
for _, win in ipairs(L.ops) do if win.max < 1 then fits = false end end
if fits then
  local t0 = math.max(now, b)
  nxt = earliest(t0, constraints(L, M, t0, 1, 1, 0))
  if nxt == NEVER then nxt = -1 end
end
local out = {now, users, redis.call('ZCOUNT', K.gs, '-inf', s(now)), nxt,
  redis.call('ZCARD', K.r), redis.call('ZCARD', K.q), b}
for k = 1, #ops do out[#out + 1] = ops[k] end
return out
