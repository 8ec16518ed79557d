--[[
  The retry clock queues a failed window again and counts the round (rounds of attempts, up to
  the schedule's maxRetries). Only a window still failed: another scheduler replica may have
  claimed this round first, or the window ran meanwhile.

  Input:
    KEYS[1] window hash        <p>:ledger:w:<schedule>:<start>
    KEYS[2] windows (zset)     <p>:ledger:idx:<schedule>      score: start
    KEYS[3] failed (zset)      <p>:ledger:failed:<schedule>   score: start
    KEYS[4] watermark hash     <p>:ledger:wm:<schedule>       (and the trimmed range)
    KEYS[5] schedules (set)    <p>:ledger:schedules
    ARGV[1] schedule id
    ARGV[2] window start (ms)
    ARGV[3] window end (ms)
    ARGV[4] job name
    ARGV[5] now (ms)
    ARGV[6] BullMQ job id

  Output:
    {'round', n}  queued as retry round n (1, 2, …)
    {'refused'}   the window is not failed
]]
--- @include "includes/readWindow"
--- @include "includes/setWindowState"

local window = readWindow(KEYS[1], ARGV[5])
if window.state ~= 'failed' then
  return { 'refused' }
end
local round = redis.call('HINCRBY', KEYS[1], 'retryRounds', 1)
setQueued(KEYS, ARGV, window.state, ARGV[6])
return { 'round', round }
