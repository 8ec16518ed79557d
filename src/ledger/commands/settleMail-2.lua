--[[
  Settles the claims of one send: `sent` writes each address's delivery record (also over a
  claim another run took meanwhile: the mail went out); `release` drops this owner's claims (the
  send provably did not reach the server, the next run may send); `unknown` marks this owner's
  claims as interrupted (an OX send cut short: never sent again without force).

  Input:
    KEYS[1] the window's deliveries (hash)  <p>:ledger:d:<schedule>:<start>
    KEYS[2] open mail claims (zset)         <p>:ledger:mailclaims
    ARGV[1] owner
    ARGV[2] outcome: 'sent' | 'release' | 'unknown'
    ARGV[3] claims index member prefix: '<schedule>|<start>|'
    ARGV[4..] pairs: address, delivery record JSON (for 'sent'; '' otherwise)

  Output: number of addresses settled
]]
local owner, outcome, member = ARGV[1], ARGV[2], ARGV[3]
local settled = 0
for i = 4, #ARGV, 2 do
  local address, record = ARGV[i], ARGV[i + 1]
  local field = 'mail:' .. address
  local raw = redis.call('HGET', KEYS[1], field)
  local claim = raw and cjson.decode(raw) or nil
  local mine = claim and claim.state == 'claimed' and claim.owner == owner
  if outcome == 'sent' then
    redis.call('HSET', KEYS[1], field, record)
    redis.call('ZREM', KEYS[2], member .. address)
    settled = settled + 1
  elseif mine and outcome == 'release' then
    redis.call('HDEL', KEYS[1], field)
    redis.call('ZREM', KEYS[2], member .. address)
    settled = settled + 1
  elseif mine and outcome == 'unknown' then
    claim.state = 'unknown'
    redis.call('HSET', KEYS[1], field, cjson.encode(claim))
    redis.call('ZADD', KEYS[2], 0, member .. address)
    settled = settled + 1
  end
end
return settled
