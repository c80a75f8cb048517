-- release.lua: an archive succeeded; free the active-segment units that
-- committed entries hold for the segment.
-- KEYS: see common.lua.
-- ARGV[1] segment.
-- Returns the number of units freed.
local n, all = 0, redis.call('HGETALL', K.gm)
for i = 1, #all, 2 do
  local g = all[i]
  if all[i + 1] == ARGV[1] then
    local en = get(string.match(g, '^(.*)@%-?%d+$'))
    if not en or en.st == 'C' then
      redis.call('ZREM', K.gz, g)
      redis.call('ZREM', K.gs, g)
      redis.call('HDEL', K.gm, g)
      n = n + 1
    end
  end
end
if n > 0 then redis.call('HDEL', K.m, 'p') end
return n
