--[[
  A window that was done is no longer done (queued again, begun again, failed): a cached watermark
  (the end of the contiguous run of done windows, RedisLedger.watermark) past its start is
  dropped. `gen` is bumped on every done -> not-done change, so a scan in flight that saw the
  window done cannot save its watermark past it (saveWatermark-1.lua compares gen).
]]
local function invalidateWatermark(wmKey, start)
  local wm = tonumber(redis.call('HGET', wmKey, 'watermark') or '-1')
  if wm > start then
    redis.call('HDEL', wmKey, 'watermark', 'startAt')
  end
  redis.call('HINCRBY', wmKey, 'gen', 1)
end
