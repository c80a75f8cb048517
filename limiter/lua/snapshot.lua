-- snapshot.lua: the raw state of a workspace, for Estimate and tests.
-- KEYS: see common.lua. No ARGV.
-- Returns {now, blocked, e (HGETALL), w, r, q, gz, gs (ZRANGE WITHSCORES),
-- gm (HGETALL), u}.
local function z(key) return redis.call('ZRANGE', key, 0, -1, 'WITHSCORES') end
return {now_ms(), blocked(), redis.call('HGETALL', K.e), z(K.w), z(K.r), z(K.q), z(K.gz), z(K.gs),
  redis.call('HGETALL', K.gm), tonumber(redis.call('GET', K.u) or '0')}
