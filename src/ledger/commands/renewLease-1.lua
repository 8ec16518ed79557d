--[[
  Extends the lease of an attempt that still holds its running window (a manual attempt and a
  worker's attempt renew theirs while the job kind works).

  Input:
    KEYS[1] window hash        <p>:ledger:w:<schedule>:<start>
    ARGV[1] owner
    ARGV[2] leaseUntil (ms)

  Output:
    {'applied'}   extended
    {'refused'}   the window is no longer running, or held by another owner
]]
local recorded = redis.call('HMGET', KEYS[1], 'state', 'owner')
if recorded[1] == 'running' and (recorded[2] or '') == ARGV[1] then
  redis.call('HSET', KEYS[1], 'leaseUntil', ARGV[2])
  return { 'applied' }
end
return { 'refused' }
