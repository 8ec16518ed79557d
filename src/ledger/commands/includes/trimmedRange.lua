--[[
  The range of old done windows that ledger.keepDone removed (trimDone.lua), kept in the
  schedule's watermark hash as [trimFrom, trimThrough): every window starting in it was done.
]]

-- The range's bounds as numbers (nil when there is none yet), and as stored (false when absent).
local function readTrimmedRange(wmKey)
  local range = redis.call('HMGET', wmKey, 'trimFrom', 'trimThrough')
  return tonumber(range[1] or ''), tonumber(range[2] or ''), range[1], range[2]
end

-- A window starting at `start` lies in the trimmed range: it was done.
local function inTrimmedRange(wmKey, start)
  local from, through = readTrimmedRange(wmKey)
  return from ~= nil and through ~= nil and start >= from and start < through
end
