-- promote.lua: hand slots to pending entries in order while the head's
-- earliest slot is within the horizon (strict head-of-line).
-- KEYS: see common.lua.
-- ARGV[1] batch (most entries to promote in this call), ARGV[2..] limits block.
-- Returns {now, more, id1, slot1, id2, slot2, ...}; more is 1 when the batch
-- filled up and pending entries remain.
local L = parse_limits(ARGV, 2)
local batch = tonumber(ARGV[1])
local now = now_ms()
trim(now, L)
local t0 = math.max(now, blocked())
local out = {now, 0}
local n = 0
while true do
  local head = redis.call('ZRANGE', K.q, 0, 0)[1]
  if not head then break end
  if n == batch then out[2] = 1; break end
  local en = get(head)
  local slot = slot_for(en, L, t0)
  if slot > now + L.horizon then break end
  redis.call('ZREM', K.q, head)
  reserve(en, slot, L)
  out[#out + 1] = head
  out[#out + 1] = slot
  n = n + 1
end
return out
