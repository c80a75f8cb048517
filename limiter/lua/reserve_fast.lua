-- reserve_fast.lua: Reserve's fast path (ARGV as in reserve.lua): a new
-- request that orders after the queue's head waits behind it. Four calls:
-- TIME (once per batch), HMGET m, HSETNX (which also detects an existing
-- id), ZADD. The request orders after h, so h stays an upper bound of q's
-- head.
do
  local idle, h = fast_idle(KEYS[ko + 8], clock(), tonumber(ARGV[ao + 4]), tonumber(ARGV[ao + 5]), 'h')
  if idle and h and tonumber(ARGV[ao + 2]) > tonumber(h) and
      redis.call('HSETNX', KEYS[ko + 1], ARGV[ao + 1], 'P|0|' .. ARGV[ao + 3]) == 1 then
    redis.call('ZADD', KEYS[ko + 4], ARGV[ao + 2], ARGV[ao + 1])
    return {'P', 0}
  end
end
