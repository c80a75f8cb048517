-- promote_fast.lua: Promote's fast path (ARGV as in promote.lua): nothing
-- to promote before the p bound, recorded under these limits (pf is the
-- limits block's third argument, which holds every number the search
-- reads). Two calls: TIME (once per batch) and HMGET m.
do
  local now = clock()
  local idle, p, pf = fast_idle(KEYS[ko + 8], now, tonumber(ARGV[ao + 2]), tonumber(ARGV[ao + 3]), 'p', 'pf')
  if idle and p and pf == ARGV[ao + 4] and tonumber(p) > now then return {now, 0} end
end
