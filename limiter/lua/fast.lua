-- fast.lua: helpers of the fast paths (*_fast.lua), defined once per batch
-- (batch.lua). A fast path runs before its op's common.lua defines anything
-- and reads its keys and arguments where they lie in the batch (KEYS[ko+i],
-- ARGV[ao+i]) rather than copying them out, so a path that returns early
-- skips all of that. Each path handles only the common case and otherwise
-- falls through, having written nothing, to the full script, which decides
-- from scratch. A path may run only when trimming is not due: every bound
-- in m is known and none has come (see trim in common.lua).

-- fast_idle reads the trimming bounds r, w, g of the m hash (key m) and the
-- fields named after them (...); it returns whether trimming is not due (for
-- the limits block's grace and maxlen), then those fields' values. Reading
-- only these fields, not all of m, matters: each field read costs about as
-- much as the rest of a fast path's Lua.
local function fast_idle(m, now, grace, maxlen, ...)
  local v = redis.call('HMGET', m, 'r', 'w', 'g', ...)
  local r, w, g = v[1], v[2], v[3]
  return r and w and g and (r == 'n' or tonumber(r) >= now - grace) and
    (w == 'n' or tonumber(w) > now - maxlen) and (g == 'n' or tonumber(g) > now), v[4], v[5]
end
