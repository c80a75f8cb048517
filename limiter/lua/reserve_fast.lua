-- reserve_fast.lua: Reserve's fast path (ARGV as in reserve.lua): a new
-- request that orders after the queue's head waits behind it. Four calls:
-- TIME (once per batch), HMGET m, HSETNX (which also detects an existing
-- id), ZADD. The request orders after h, so h stays an upper bound of q's
-- head.
do
  local idle, h = fast_idle(KEYS[8], clock(), tonumber(ARGV[4]), tonumber(ARGV[5]), 'h')
  if idle and h and tonumber(ARGV[2]) > tonumber(h) and
      redis.call('HSETNX', KEYS[1], ARGV[1], 'P|0|' .. ARGV[3]) == 1 then
    redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
    return {'P', 0}
  end
end
