-- confirm_fast.lua: Confirm's fast path (ARGV as in confirm.lua): the
-- whole of Confirm for a known request, when nothing is due for trimming.
do
  local now = clock()
  if fast_idle(KEYS[ko + 8], now, tonumber(ARGV[ao + 3]), tonumber(ARGV[ao + 4])) then
    local id = ARGV[ao + 1]
    local raw = redis.call('HGET', KEYS[ko + 1], id)
    if not raw then return {'L', '', 0, now} end
    local st, slot = string.match(raw, '^(%a)|(%-?%d+)|')
    slot = tonumber(slot)
    if st == 'P' then return {'M', 'P', 0, now} end
    if slot ~= tonumber(ARGV[ao + 2]) then return {'M', st, slot, now} end
    if st == 'C' and now > slot + tonumber(ARGV[ao + 3]) then return {'L', st, slot, now} end
    if st == 'R' and now < slot then return {'W', st, slot, now} end
    if st == 'R' then
      redis.call('HSET', KEYS[ko + 1], id, 'C' .. string.sub(raw, 2))
      redis.call('ZREM', KEYS[ko + 3], id)
    end
    return {'G', 'C', slot, now}
  end
end
