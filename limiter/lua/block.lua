-- block.lua: no slot before ARGV[1]; every reserved-but-uncommitted entry
-- goes back to pending with its original order.
-- KEYS: see common.lua.
-- ARGV[1] until (ms).
-- Returns the number of entries sent back to pending.
local untl = tonumber(ARGV[1])
if untl > blocked() then redis.call('SET', K.b, s(untl)) end
local ids = redis.call('ZRANGE', K.r, 0, -1)
for _, id in ipairs(ids) do
  local en = get(id)
  unreserve(en)
  en.st, en.slot = 'P', 0
  put(en)
  redis.call('ZADD', K.q, s(en.order), id)
end
return #ids
