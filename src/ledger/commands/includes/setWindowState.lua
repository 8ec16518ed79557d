--[[
  Writes a window's new state, the fields of each state in one place. Every window transition
  (../mark*-5.lua, ../begin*-5.lua) takes the same KEYS and the same first five ARGV:
    keys[1] window hash   keys[2] idx zset   keys[3] failed zset   keys[4] watermark hash
    keys[5] schedules set
    args[1] schedule id   args[2] start (ms)   args[3] end (ms)   args[4] job name   args[5] now (ms)
  `prior` is the state before (false: no record yet); `...` the state's fields and values.
  One HSET per update: a field that no longer applies is set to '' (read back as absent).
  (Varargs, not a table: these run twice per job on the worker path, and each table costs.)
]]
--- @include "invalidateWatermark"

local function setWindowState(keys, args, prior, state, ...)
  local scheduleId, startText = args[1], args[2]
  local start = tonumber(startText)
  if not prior then
    redis.call('HSET', keys[1], 'scheduleId', scheduleId, 'start', startText, 'end', args[3])
    redis.call('ZADD', keys[2], start, startText)
    redis.call('SADD', keys[5], scheduleId)
  end
  redis.call('HSET', keys[1], 'job', args[4], 'state', state, ...)
  -- Indexes are written only when they change: two transitions run per job on the worker path.
  if state == 'failed' then
    redis.call('ZADD', keys[3], start, startText)
  elseif prior == 'failed' then
    redis.call('ZREM', keys[3], startText)
  end
  if state ~= 'done' and prior == 'done' then
    invalidateWatermark(keys[4], start)
  end
end

-- Queued: a BullMQ job with this id is to run it.
local function setQueued(keys, args, prior, jobId)
  setWindowState(keys, args, prior, 'queued', 'queuedAt', args[5], 'jobId', jobId)
end

-- Running attempt `attempt`, held by `owner` until `leaseUntil` ('' and '': held by no lease).
local function setRunning(keys, args, prior, attempt, owner, leaseUntil)
  setWindowState(keys, args, prior, 'running', 'startedAt', args[5], 'attempts', attempt, 'finishedAt', '', 'owner', owner, 'leaseUntil', leaseUntil)
end

-- Done, with the job's result (JSON text, stored verbatim: Lua's cjson would turn [] into {}).
local function setDone(keys, args, prior, result)
  setWindowState(keys, args, prior, 'done', 'finishedAt', args[5], 'result', result, 'lastError', '', 'leaseUntil', '')
end

-- An attempt ended in an error (`message`): failed (permanent: no retry can fix it, the retry
-- clock leaves the window to an operator), or queued again for the next try.
local function setErrored(keys, args, prior, state, message, permanent)
  setWindowState(keys, args, prior, state, 'finishedAt', args[5], 'lastError', message, 'leaseUntil', '', 'permanent', permanent and '1' or '')
end
