--[[
  Marks a window queued: its BullMQ job was added (a tick, ox-batch enqueue or backfill). Without
  force a window that is done or running keeps its state (a late tick must not undo a finished
  attempt), and a window in the trimmed range stays done; force (an operator's --force)
  queues it anyway.

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
    ARGV[7] force: '1' | '0'

  Output:
    {'applied'}   queued
    {'refused'}   left as it was (done, running, or trimmed)
]]
--- @include "includes/readWindow"
--- @include "includes/trimmedRange"
--- @include "includes/setWindowState"

local force = ARGV[7] == '1'
local window = readWindow(KEYS[1], ARGV[5])
if not window.state and not force and inTrimmedRange(KEYS[4], tonumber(ARGV[2])) then
  return { 'refused' }
end
if not force and (window.state == 'done' or window.state == 'running') then
  return { 'refused' }
end
setQueued(KEYS, ARGV, window.state, ARGV[6])
return { 'applied' }
