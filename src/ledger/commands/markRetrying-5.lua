--[[
  A try failed and another follows (BullMQ's backoff, or the attempt was aborted by shutdown):
  the window is queued again, with the error.

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
    ARGV[6] error (at most 4000 characters)

  Output:
    {'applied'}
]]
--- @include "includes/readWindow"
--- @include "includes/setWindowState"

local prior = readState(KEYS[1])
setErrored(KEYS, ARGV, prior, 'queued', ARGV[6], false)
return { 'applied' }
