-- promote_fast.lua: Promote's fast path (ARGV as in promote.lua): nothing
-- to promote while the p bound says the head's earliest slot is beyond the
-- horizon. Two calls: TIME and HMGET m.
do
  local now = fast_now()
  local idle, _, p = fast_idle(now, tonumber(ARGV[2]), tonumber(ARGV[3]))
  if idle and p then
    local slot, fp = string.match(p, '^(%-?%d+)|(.*)$')
    local horizon = tonumber(string.match(ARGV[4], '^%S+%s+(%S+)'))
    if fp == fast_fp(2) and tonumber(slot) > now + horizon then return {now, 0} end
  end
end
