-- confirm.lua: Confirm a reservation right before sending upstream.
-- KEYS: see common.lua.
-- ARGV[1] id, ARGV[2] the slot the caller holds, ARGV[3..5] limits block
-- (only grace and maxlen are read).
-- Returns {outcome, status, slot, now}: outcome "G" go (now committed), "W"
-- wait, "M" moved, "L" lost; status/slot are the entry's current state
-- ("" and 0 when lost).
local now = clock()
trim(now, meta(), 3)
local id, slot = ARGV[1], tonumber(ARGV[2])
local en = get(id)
if not en then return {'L', '', 0, now} end
local st = state(en)
if en.st == 'P' or en.slot ~= slot then return {'M', st[1], st[2], now} end
if en.st == 'C' and now > slot + tonumber(ARGV[3]) then return {'L', st[1], st[2], now} end
if en.st == 'R' and now < slot then return {'W', st[1], st[2], now} end
if en.st == 'R' then
  en.st = 'C'
  put(en)
  redis.call('ZREM', K.r, id)
end
return {'G', 'C', slot, now}
