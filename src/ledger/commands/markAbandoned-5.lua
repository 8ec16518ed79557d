--[[
  BullMQ failed the window's job without running it to the end (it stalled more than
  maxStalledCount): the window is failed, but only one still open (queued or running), only this
  very window (same end), and not while an attempt's live lease holds it.

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
    {'applied'}   failed
    {'refused'}   left as it was
]]
--- @include "includes/readWindow"
--- @include "includes/setWindowState"

local window = readWindow(KEYS[1], ARGV[5])
if (window.state ~= 'queued' and window.state ~= 'running') or window.endText ~= ARGV[3] or window.heldByRun then
  return { 'refused' }
end
setErrored(KEYS, ARGV, window.state, 'failed', ARGV[6], false)
return { 'applied' }
