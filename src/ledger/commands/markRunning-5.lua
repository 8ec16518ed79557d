--[[
  Marks a window running as the given attempt, held by no lease, whatever its state was.

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
    ARGV[6] attempt

  Output:
    {'applied'}
]]
--- @include "includes/readWindow"
--- @include "includes/setWindowState"

local prior = readState(KEYS[1])
setRunning(KEYS, ARGV, prior, ARGV[6], '', '')
return { 'applied' }
