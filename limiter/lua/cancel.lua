-- cancel.lua: free a pending or reserved-but-uncommitted entry.
-- KEYS: see common.lua.
-- ARGV[1] id.
-- Returns 0 unknown, 1 freed, 2 committed (never freed).
local en = get(ARGV[1])
if not en then return 0 end
if en.st == 'C' then return 2 end
if en.st == 'R' then
  unreserve(fill(en), meta())
else
  redis.call('ZREM', K.q, en.id)
  sync_head()
end
redis.call('HDEL', K.e, en.id)
return 1
