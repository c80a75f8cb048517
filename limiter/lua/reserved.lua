-- reserved.lua: list reserved-but-uncommitted entries.
-- KEYS: see common.lua. No ARGV.
-- Returns {id1, slot1, id2, slot2, ...} ordered by slot, then id.
return redis.call('ZRANGE', K.r, 0, -1, 'WITHSCORES')
