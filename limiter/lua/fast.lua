-- fast.lua: the fast paths, run before common.lua defines anything (Lua
-- creates a closure per function definition on every call, so a path that
-- returns here skips that cost). Each path handles only the common case and
-- otherwise falls through, having written nothing, to the full script, which
-- decides from scratch. A path may run only when trimming is not due: every
-- bound in m is known and none has come (see trim in common.lua).
-- PRE hands what a fast path read (now, the m hash) to the full script
-- when it falls through, so that it does not read them again.
local PRE = {}

local function fast_now()
  local t = redis.call('TIME')
  PRE.now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  return PRE.now
end

-- fast_idle reads the m hash and returns whether trimming is not due (it
-- takes the limits block's grace and maxlen), and the h bound.
local function fast_idle(now, grace, maxlen)
  local v = redis.call('HMGET', KEYS[8], 'b', 'u', 'r', 'w', 'g', 'h', 'p')
  PRE.m = v
  local r, w, g = v[3], v[4], v[5]
  return r and w and g and (r == 'n' or tonumber(r) >= now - grace) and
    (w == 'n' or tonumber(w) > now - maxlen) and (g == 'n' or tonumber(g) > now), v[6], v[7]
end

-- fast_fp is the fingerprint of the limits block at ARGV[i] that the p
-- bound of m carries: the bound holds for these limits only.
local function fast_fp(i)
  return ARGV[i] .. '|' .. ARGV[i + 1] .. '|' .. ARGV[i + 2]
end
