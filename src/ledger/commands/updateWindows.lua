--[[
  Applies the window transitions issued in one turn of the event loop (ledger/update-batcher.ts)
  in one call: a worker finishes and starts jobs in bursts, and one Redis call per burst instead
  of one per update keeps the ledger from costing more than the queue (bench/scheduling.ts).
  Each update runs as its command (<name>-<keys>.lua) would alone, in order; one that raises
  answers {'error', message} and does not stop the others. No fixed key count: the caller
  passes the count first.

  Input:
    KEYS    each update's keys, one update after the other
    ARGV    per update: its command's name, its number of keys, its number of arguments, then
            its arguments

  Output: per update its command's reply, or {'error', message}
]]
--- @function "markQueued-5"
--- @function "markRetryRound-5"
--- @function "beginWindow-5"
--- @function "beginManual-5"
--- @function "renewLease-1"
--- @function "markRunning-5"
--- @function "markDone-5"
--- @function "markFailed-5"
--- @function "markRetrying-5"
--- @function "markAbandoned-5"

local transitions = {
  markQueued = markQueued,
  markRetryRound = markRetryRound,
  beginWindow = beginWindow,
  beginManual = beginManual,
  renewLease = renewLease,
  markRunning = markRunning,
  markDone = markDone,
  markFailed = markFailed,
  markRetrying = markRetrying,
  markAbandoned = markAbandoned,
}

local replies = {}
local k, a = 0, 0
while a < #ARGV do
  local name, keyCount, argCount = ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local transition = transitions[name]
  local ok, reply
  if transition then
    ok, reply = pcall(transition, { unpack(KEYS, k + 1, k + keyCount) }, { unpack(ARGV, a + 4, a + 3 + argCount) })
  else
    ok, reply = false, 'no window transition named ' .. tostring(name)
  end
  if ok then
    replies[#replies + 1] = reply
  else
    replies[#replies + 1] = { 'error', tostring(reply) }
  end
  k, a = k + keyCount, a + 3 + argCount
end
return replies
