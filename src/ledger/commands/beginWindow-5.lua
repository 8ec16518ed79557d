--[[
  A worker starts a window's attempt (BullMQ counts the attempts), in one round trip with the
  "already done?" check. With an owner the execution holds the window by a lease (renewLease-1)
  like ox-batch run; a window another live lease holds answers busy, forced or not.

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
    ARGV[6] attempt (BullMQ's)
    ARGV[7] force: '1' begins a done window again (the other refusals stay)
    ARGV[8] leaseUntil (ms), '' without an owner
    ARGV[9] owner ('worker:<host>:<pid>:<id>'), '' when the execution holds no lease

  Output:
    {'started', '' [, result]}           running; result: of the done window a forced begin replaces
    {'done', result}                     refused: done (result 'null' for a trimmed window)
    {'otherWindow', end}                 refused: the record with this start ends elsewhere
    {'busy', owner, leaseUntil, startedAt}  refused: a live lease holds it
]]
--- @include "includes/readWindow"
--- @include "includes/beginRefusal"
--- @include "includes/setWindowState"

local force = ARGV[7] == '1'
local window = readWindow(KEYS[1], ARGV[5])
local refusal, replaced = beginRefusal(KEYS, ARGV, window, force)
if refusal then
  return refusal
end
if window.heldByRun then
  return { 'busy', window.owner, window.leaseUntil, window.startedAt }
end
setRunning(KEYS, ARGV, window.state, ARGV[6], ARGV[9], ARGV[8])
return { 'started', '', replaced }
