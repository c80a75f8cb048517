-- promote_fast.lua: Promote's fast path (ARGV as in promote.lua): nothing
-- to promote while the p bound says the head's earliest slot is beyond the
-- horizon. Two calls: TIME (once per batch) and HMGET m.
do
  local now = clock()
  local idle, p = fast_idle(KEYS[8], now, tonumber(ARGV[2]), tonumber(ARGV[3]), 'p')
  if idle and p then
    local slot, fp = string.match(p, '^(%-?%d+)|(.*)$')
    local horizon = tonumber(string.match(ARGV[4], '^%S+%s+(%S+)'))
    if fp == fast_fp(ARGV, 2) and tonumber(slot) > now + horizon then return {now, 0} end
  end
end
