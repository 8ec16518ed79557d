--[[
  The fields of a window's record that decide a transition. `state` and `endText` are false when
  the window has no record. heldByRun: an attempt holds the running window by a lease that has
  not run out (manual attempts and the attempts of workers renew theirs, renewLease-1.lua): one owner
  at a time, so two live attempts never deliver one window.
]]
local function readWindow(windowKey, now)
  local recorded = redis.call('HMGET', windowKey, 'state', 'end', 'owner', 'leaseUntil', 'attempts', 'startedAt')
  local window = {
    state = recorded[1],
    endText = recorded[2],
    owner = recorded[3] or '',
    leaseUntil = recorded[4] or '',
    attempts = recorded[5],
    startedAt = recorded[6] or '',
  }
  window.heldByRun = window.state == 'running' and window.owner ~= '' and (tonumber(window.leaseUntil) or 0) > tonumber(now)
  return window
end

-- Only the state (false: no record): all a transition needs that writes whatever the state was.
local function readState(windowKey)
  return redis.call('HGET', windowKey, 'state')
end
