--[[
  Flags a done window for re-export: the purge counted more rows in OX for it than its archive
  holds (late rows: replication lag, an OX node clock behind the others).

  Input:
    KEYS[1] window hash              <p>:ledger:w:<schedule>:<start>
    KEYS[2] re-export index (zset)   <p>:ledger:reexport:<schedule>
    ARGV[1] window start (ms)
    ARGV[2] window end (ms)
    ARGV[3] the flag as JSON {flaggedAt, oxRows, archivedRows, by}

  Output:
    {'applied'}   flagged (a flag already there is replaced)
    {'refused'}   not flagged: the window is not done, or the record is another window with this start
]]
local state = redis.call('HGET', KEYS[1], 'state')
if state ~= 'done' or redis.call('HGET', KEYS[1], 'end') ~= ARGV[2] then
  return { 'refused' }
end
redis.call('HSET', KEYS[1], 'reexport', ARGV[3])
redis.call('ZADD', KEYS[2], tonumber(ARGV[1]), ARGV[1])
return { 'applied' }
