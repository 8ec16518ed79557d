--[[
  Clears a window's re-export flag once a re-export it asked for is done. A newer flag (set by a
  purge after the re-export had started) stays.

  Input:
    KEYS[1] window hash              <p>:ledger:w:<schedule>:<start>
    KEYS[2] re-export index (zset)   <p>:ledger:reexport:<schedule>
    ARGV[1] window start (ms)
    ARGV[2] flaggedAt of the flag the re-export was queued for

  Output:
    {'applied'}   cleared
    {'refused'}   no flag, or a newer one (kept)
]]
local raw = redis.call('HGET', KEYS[1], 'reexport')
if not raw or raw == '' then
  redis.call('ZREM', KEYS[2], ARGV[1])
  return { 'refused' }
end
local flag = cjson.decode(raw)
if tostring(flag.flaggedAt) ~= ARGV[2] then
  return { 'refused' }
end
redis.call('HDEL', KEYS[1], 'reexport')
redis.call('ZREM', KEYS[2], ARGV[1])
return { 'applied' }
