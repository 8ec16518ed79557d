--[[
  Saves the watermark a scan found (RedisLedger.watermark): the end of the contiguous run of done
  windows from startAt. Not when a window stopped being done since the scan read `gen`
  (includes/invalidateWatermark.lua bumps it): the scan may have walked past it.

  Input:
    KEYS[1] watermark hash     <p>:ledger:wm:<schedule>
    ARGV[1] gen the scan read ('0' when there was none)
    ARGV[2] startAt (ms): where the scan began (the schedule's origin)
    ARGV[3] watermark (ms)

  Output:
    {'applied'}   saved
    {'refused'}   gen moved on: not saved
]]
local gen = redis.call('HGET', KEYS[1], 'gen') or '0'
if gen ~= ARGV[1] then
  return { 'refused' }
end
redis.call('HSET', KEYS[1], 'startAt', ARGV[2], 'watermark', ARGV[3], 'gen', gen)
return { 'applied' }
