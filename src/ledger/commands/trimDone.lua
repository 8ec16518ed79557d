--[[
  ledger.keepDone: deletes old done windows (record and deliveries) and widens the trimmed range
  [trimFrom, trimThrough) of the watermark hash, which counts as done from then on.
  The range stays contiguous and done: a window is trimmed only when done and adjacent to it (or
  inside it: a forced re-run of a trimmed window), so every window in it was done. A window
  flagged for re-export (flagReexport-2) or holding an open mail claim (claimMail-2) is not
  trimmed. No fixed key count: the caller passes the count first.

  Input:
    KEYS[1] watermark hash     <p>:ledger:wm:<schedule>
    KEYS[2] windows (zset)     <p>:ledger:idx:<schedule>
    KEYS[3] failed (zset)      <p>:ledger:failed:<schedule>
    KEYS[4..] per candidate: its window hash <p>:ledger:w:<schedule>:<start>, then its
            deliveries <p>:ledger:d:<schedule>:<start>
    ARGV[1] trim windows ending at or before this (ms)
    ARGV[2] the schedule's first window (ms): where the range begins
    ARGV[3..] per candidate its start (ms)

  Output: the number of windows trimmed
]]
--- @include "includes/trimmedRange"

local from, through, fromText, throughText = readTrimmedRange(KEYS[1])
local limit, origin = tonumber(ARGV[1]), tonumber(ARGV[2])
local count = 0
for i = 3, #ARGV do
  local windowKey, deliveryKey = KEYS[2 * i - 2], KEYS[2 * i - 1]
  local startText = ARGV[i]
  local start = tonumber(startText)
  local record = redis.call('HMGET', windowKey, 'state', 'end', 'reexport')
  local endText = record[2]
  local finish = tonumber(endText or '')
  -- A window the purge flagged for re-export keeps its record (and ends the range) until
  -- re-exported; one with a mail claim not settled (in flight, or of unknown outcome: never
  -- sent again without force) keeps its delivery log.
  local keep = record[3] ~= false and record[3] ~= nil and record[3] ~= ''
  if not keep and record[1] == 'done' then
    for _, delivery in ipairs(redis.call('HVALS', deliveryKey)) do
      if string.find(delivery, '"state":"claimed"', 1, true) or string.find(delivery, '"state":"unknown"', 1, true) then keep = true end
    end
  end
  if record[1] == 'done' and not keep and finish ~= nil and finish <= limit then
    local take = false
    if from == nil then
      if start == origin then from, fromText, through, throughText, take = start, startText, finish, endText, true end
    elseif start == through then through, throughText, take = finish, endText, true
    elseif finish == from then from, fromText, take = start, startText, true
    elseif start >= from and finish <= through then take = true
    end
    if take then
      redis.call('DEL', windowKey, deliveryKey)
      redis.call('ZREM', KEYS[2], startText)
      redis.call('ZREM', KEYS[3], startText)
      count = count + 1
    end
  end
end
if count > 0 then
  redis.call('HSET', KEYS[1], 'trimFrom', fromText, 'trimThrough', throughText)
  redis.call('HINCRBY', KEYS[1], 'trimCount', count)
end
return count
