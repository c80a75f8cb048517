-- snapshot.lua: the raw state of a workspace, for Estimate and tests.
-- KEYS: see common.lua. No ARGV.
-- Returns {now, e (HGETALL), w, r, q, gz, gs (ZRANGE WITHSCORES), gm, m
-- (HGETALL)}.
local function z(key) return redis.call('ZRANGE', key, 0, -1, 'WITHSCORES') end
return {clock(), redis.call('HGETALL', K.e), z(K.w), z(K.r), z(K.q), z(K.gz), z(K.gs),
  redis.call('HGETALL', K.gm), redis.call('HGETALL', K.m)}
