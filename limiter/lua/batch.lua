-- batch.lua: many limiter decisions in one script call. Concurrent callers'
-- decisions are sent together (Limiter.run), so Redis parses, looks up and
-- starts one script, and reads the clock once, for all of them. Each
-- decision still runs whole before the next starts, exactly as its own
-- script would (in the order given: any order of concurrent decisions is a
-- valid one).
-- KEYS: 8 per decision, in common.lua's layout, one decision after another.
-- ARGV: per decision, its op, the number n of its arguments, then those n
-- arguments (as its file states them).
-- Returns one reply per decision: the op's reply, or an error reply when
-- the op failed; a failed op does not stop the others.

-- clock is Redis TIME in ms, read at most once per call: the decisions of
-- one batch happen at the same instant.
local NOW
local function clock()
  if not NOW then
    local t = redis.call('TIME')
    NOW = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  end
  return NOW
end

-- fast.lua, then decide, which runs one decision: op with its keys at
-- KEYS[ko+1..ko+8] and its n arguments at ARGV[ao+1..ao+n]. decide is one
-- if-chain over the ops, not a table of functions: Lua creates a closure
-- for every function definition it runs, on every call, and most ops
-- would never run. scripts.go writes both in place of the next line.
--[[OPS]]

local out, a = {}, 1
for d = 1, #KEYS / 8 do
  local n = tonumber(ARGV[a + 1])
  local ok, r = pcall(decide, ARGV[a], 8 * (d - 1), a + 1, n)
  a = a + 2 + n
  if not ok then
    if type(r) ~= 'table' then r = {err = tostring(r)} end
  elseif r == nil then
    r = false
  end
  out[d] = r
end
return out
