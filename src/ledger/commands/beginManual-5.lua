--[[
  ox-batch run (a manual attempt) starts a window: like beginWindow-5, but it counts the attempt
  itself (from the record), holds the window by a lease, and waits for (is refused) a window
  running elsewhere — a worker, or a manual attempt whose lease is live — unless forced.

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
    ARGV[6] force: '1' | '0'
    ARGV[7] leaseUntil (ms)
    ARGV[8] owner ('run:<host>:<pid>')

  Output:
    {'started', attempt [, result]}      running as this attempt; result: of the done window a forced begin replaces
    {'done', result}                     refused: done (result 'null' for a trimmed window)
    {'otherWindow', end}                 refused: the record with this start ends elsewhere
    {'busy', owner, leaseUntil, startedAt}  refused: running elsewhere
]]
--- @include "includes/readWindow"
--- @include "includes/beginRefusal"
--- @include "includes/setWindowState"

local force = ARGV[6] == '1'
local window = readWindow(KEYS[1], ARGV[5])
local refusal, replaced = beginRefusal(KEYS, ARGV, window, force)
if refusal then
  return refusal
end
if window.state == 'running' and not force and (window.owner == '' or window.heldByRun) then
  return { 'busy', window.owner, window.leaseUntil, window.startedAt }
end
local attempt = tostring((tonumber(window.attempts) or 0) + 1)
setRunning(KEYS, ARGV, window.state, attempt, ARGV[8], ARGV[7])
return { 'started', attempt, replaced }
