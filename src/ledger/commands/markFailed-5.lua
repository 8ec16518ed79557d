--[[
  An attempt failed and no try follows: the window is failed (and in the failed index, for the
  retry clock), with the error.

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
    ARGV[7] permanent: '1' no retry can fix it (bad params, OX 4xx): the retry clock leaves the
            window to an operator; '0' otherwise

  Output:
    {'applied'}
]]
--- @include "includes/readWindow"
--- @include "includes/setWindowState"

local prior = readState(KEYS[1])
setErrored(KEYS, ARGV, prior, 'failed', ARGV[6], ARGV[7] == '1')
return { 'applied' }
