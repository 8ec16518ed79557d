--[[
  The refusals both begins share (beginWindow-5.lua, beginManual-5.lua), checked first, in order:
    a window without a record in the trimmed range was done      {'done', 'null'} unless forced
    the record with this start is another window (another end)  {'otherWindow', its end}
      (its done state, result and deliveries are not this window's)
    the window is done                                            {'done', its result} unless forced
  Returns the refusal, or nil and (for a forced begin of a done window) the result it replaces.
  keys, args: the begin's KEYS and ARGV (see setWindowState.lua); window: readWindow's.
]]
--- @include "trimmedRange"

local function beginRefusal(keys, args, window, force)
  if not window.state and not force and inTrimmedRange(keys[4], tonumber(args[2])) then
    return { 'done', 'null' }
  end
  if window.state and window.endText and window.endText ~= args[3] then
    return { 'otherWindow', window.endText }
  end
  if window.state == 'done' then
    local replaced = redis.call('HGET', keys[1], 'result') or 'null'
    if not force then return { 'done', replaced } end
    return nil, replaced
  end
  return nil, nil
end
