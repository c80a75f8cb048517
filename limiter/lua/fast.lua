-- fast.lua: helpers of the fast paths (*_fast.lua), defined once per batch
-- (batch.lua). The fast paths run before common.lua defines anything (Lua
-- creates a closure per function definition on every call, so a path that
-- returns early skips that cost). Each path handles only the common case
-- and otherwise falls through, having written nothing, to the full script,
-- which decides from scratch. A path may run only when trimming is not
-- due: every bound in m is known and none has come (see trim in
-- common.lua).

-- fast_idle reads the trimming bounds r, w, g of the m hash (key m) and,
-- when f is given, its field f; it returns whether trimming is not due (for
-- the limits block's grace and maxlen) and f's value. Reading only these
-- fields, not all of m, matters: each field read costs about as much as
-- the rest of a fast path's Lua.
local function fast_idle(m, now, grace, maxlen, f)
  local v
  if f then
    v = redis.call('HMGET', m, 'r', 'w', 'g', f)
  else
    v = redis.call('HMGET', m, 'r', 'w', 'g')
  end
  local r, w, g = v[1], v[2], v[3]
  return r and w and g and (r == 'n' or tonumber(r) >= now - grace) and
    (w == 'n' or tonumber(w) > now - maxlen) and (g == 'n' or tonumber(g) > now), v[4]
end

-- fast_fp is the fingerprint of the limits block at a[i] that the p bound
-- of m carries: the bound holds for these limits only.
local function fast_fp(a, i)
  return a[i] .. '|' .. a[i + 1] .. '|' .. a[i + 2]
end
