-- block.lua: no slot before ARGV[1]; every reserved-but-uncommitted entry
-- goes back to pending with its original order.
-- KEYS: see common.lua.
-- ARGV[1] until (ms).
-- Returns the number of entries sent back to pending.
local M = meta()
local untl = tonumber(ARGV[1])
if untl > M.b then redis.call('HSET', K.m, 'b', ARGV[1]) end
local ids = redis.call('ZRANGE', K.r, 0, -1)
for _, id in ipairs(ids) do
  local en = fill(get(id))
  unreserve(en, M)
  en.st, en.slot = 'P', 0
  put(en)
  redis.call('ZADD', K.q, s(en.order), id)
end
if #ids > 0 then sync_head() end
return #ids
