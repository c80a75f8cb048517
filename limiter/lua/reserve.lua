-- reserve.lua: Reserve one request (idempotent on its id).
-- KEYS: see common.lua.
-- ARGV[1] id, ARGV[2] order score, ARGV[3] the record's tail
-- "order|enq|prio|ops|users|hold|segment" (ops 0 or 1, hold in ms, 0 for
-- none), ARGV[4..6] limits block.
-- Returns {status, slot}: status "R", "P" or "C" (an existing entry);
-- slot 0 while pending.
local now = clock()
local M = meta()
trim(now, M, 4)
local id, order = ARGV[1], tonumber(ARGV[2])
local en = {id = id, st = 'P', slot = 0, rest = ARGV[3]}

local function existing()
  local old = get(id)
  if old then return state(old) end
end

-- Behind the first pending entry? Equal scores are ordered by Redis itself
-- (by id, bytewise), so a tie is settled by ZADD and ZRANK.
local head = redis.call('ZRANGE', K.q, 0, 0, 'WITHSCORES')
local inq = false
if head[1] then
  local hs = tonumber(head[2])
  if order > hs then
    if redis.call('HSETNX', K.e, id, encode(en)) == 0 then
      local st = existing()
      return {st[1], st[2]}
    end
    redis.call('ZADD', K.q, ARGV[2], id)
    if not M.h then sync_head() end
    return {'P', 0}
  end
  local st = existing()
  if st then return {st[1], st[2]} end
  if order == hs then
    redis.call('ZADD', K.q, ARGV[2], id)
    inq = true
    if redis.call('ZRANK', K.q, id) > 0 then
      put(en)
      return {'P', 0}
    end
  end
else
  local st = existing()
  if st then return {st[1], st[2]} end
end
local L = parse_limits(ARGV, 4)
fill(en)
local slot = slot_for(en, L, M, math.max(now, M.b))
if slot <= now + L.horizon then
  if inq then
    redis.call('ZREM', K.q, id)
    sync_head()
  end
  reserve(en, slot, L, M)
  return {'R', slot}
end
redis.call('ZADD', K.q, ARGV[2], id)
put(en)
sync_head()
head_slot(slot, L, 4)
return {'P', 0}
