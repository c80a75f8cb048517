-- promote.lua: hand slots to pending entries in order while the head's
-- earliest slot is within the horizon (strict head-of-line).
-- KEYS: see common.lua.
-- ARGV[1] batch (most entries to promote in this call), ARGV[2..4] limits block.
-- Returns {now, more, id1, slot1, id2, slot2, ...}; more is 1 when the batch
-- filled up and pending entries remain.
local now = clock()
local M = meta()
trim(now, M, 2)
local batch = tonumber(ARGV[1])
local out = {now, 0}
local head = redis.call('ZRANGE', K.q, 0, 0)[1]
if not head then return out end
local L = parse_limits(ARGV, 2)
local t0 = math.max(now, M.b)
local n = 0
while head do
  if n == batch then out[2] = 1; break end
  local en = fill(get(head))
  local slot = slot_for(en, L, M, t0)
  if slot > now + L.horizon then
    if n > 0 then sync_head() end
    head_slot(slot, L, 2)
    return out
  end
  redis.call('ZREM', K.q, head)
  reserve(en, slot, L, M)
  out[#out + 1] = head
  out[#out + 1] = slot
  n = n + 1
  head = redis.call('ZRANGE', K.q, 0, 0)[1]
end
if n > 0 then sync_head() end
return out
