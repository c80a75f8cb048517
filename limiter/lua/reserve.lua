-- reserve.lua: Reserve one request (idempotent on its id).
-- KEYS: see common.lua.
-- ARGV[1] id, ARGV[2] order score, ARGV[3] enqueued_at, ARGV[4] priority,
-- ARGV[5] ops, ARGV[6] users, ARGV[7] hold (ms, 0 = none), ARGV[8] segment,
-- ARGV[9..] limits block.
-- Returns {status, slot, now}: status "R", "P" or "C" (an existing entry);
-- slot 0 while pending.
local L = parse_limits(ARGV, 9)
local now = now_ms()
trim(now, L)
local id = ARGV[1]
local old = get(id)
if old then
  local st = state(old)
  return {st[1], st[2], now}
end
local en = {id = id, st = 'P', slot = 0, order = tonumber(ARGV[2]), enq = tonumber(ARGV[3]),
  prio = tonumber(ARGV[4]), ops = tonumber(ARGV[5]), users = tonumber(ARGV[6]),
  hold = tonumber(ARGV[7]), seg = ARGV[8]}
-- Behind the first pending entry? Equal scores are ordered by Redis itself
-- (by id, bytewise), so a tie is settled by ZADD and ZRANK.
local head = redis.call('ZRANGE', K.q, 0, 0, 'WITHSCORES')
if head[1] then
  local hs, behind = tonumber(head[2]), en.order > tonumber(head[2])
  if en.order == hs then
    redis.call('ZADD', K.q, s(en.order), id)
    behind = redis.call('ZRANK', K.q, id) > 0
  end
  if behind then
    redis.call('ZADD', K.q, s(en.order), id)
    put(en)
    return {'P', 0, now}
  end
end
local t0 = math.max(now, blocked())
local slot = slot_for(en, L, t0)
if slot <= now + L.horizon then
  redis.call('ZREM', K.q, id)
  reserve(en, slot, L)
  return {'R', slot, now}
end
redis.call('ZADD', K.q, s(en.order), id)
put(en)
return {'P', 0, now}
