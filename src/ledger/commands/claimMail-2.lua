--[[
  Claims the mail of one window to each address before SMTP (or OX's send) is spoken to, so
  two runs of one window that overlap never both mail an address. A claim is held by its owner
  until `leaseUntil`; a claim whose lease ran out means its sender died after claiming: the mail
  may or may not have gone out. Over SMTP it is sent again (with the Message-ID stored in the
  claim, so a recipient's server can drop the copy); over OX's send, which has no idempotency
  key, it is recorded `unknown` and sent again only when forced.

  Input:
    KEYS[1] the window's deliveries (hash)  <p>:ledger:d:<schedule>:<start>
    KEYS[2] open mail claims (zset)         <p>:ledger:mailclaims   score: leaseUntil
    ARGV[1] now (ms)
    ARGV[2] owner (the run holding the window)
    ARGV[3] leaseUntil (ms)
    ARGV[4] mode: '0' claim, '1' claim forced (a person asked to send unknown ones again),
            'r' renew only (extend this owner's claims, touch nothing else)
    ARGV[5] via: 'smtp' | 'ox'
    ARGV[6] Message-ID for new claims
    ARGV[7] claims index member prefix: '<schedule>|<start>|'
    ARGV[8..] addresses (lower case)

  Output: per address {status, messageId}, status one of
    claimed    new claim: send it
    reclaimed  a claim of a dead sender (or an unknown one, forced): send it again, same Message-ID
    sent       mailed before: do not send
    busy       claimed by another live run: do not send now (retry after its lease, 3rd value)
    unknown    an interrupted OX send: do not send without force
]]
local now, owner, leaseUntil = tonumber(ARGV[1]), ARGV[2], ARGV[3]
local force, renewOnly, via, messageId, member = ARGV[4] == '1', ARGV[4] == 'r', ARGV[5], ARGV[6], ARGV[7]
local replies = {}
for i = 8, #ARGV do
  local address = ARGV[i]
  local field = 'mail:' .. address
  local raw = redis.call('HGET', KEYS[1], field)
  local record = raw and cjson.decode(raw) or nil
  local state = record and (record.state or 'sent') or nil
  local claim = function(status, id)
    redis.call('HSET', KEYS[1], field, cjson.encode({ state = 'claimed', owner = owner, leaseUntil = tonumber(leaseUntil), via = via, messageId = id, at = now, resent = status == 'reclaimed' or nil }))
    redis.call('ZADD', KEYS[2], tonumber(leaseUntil), member .. address)
    return { status, id }
  end
  if renewOnly then
    if state == 'claimed' and record.owner == owner then
      replies[#replies + 1] = claim(record.resent and 'reclaimed' or 'claimed', record.messageId or messageId)
    else
      replies[#replies + 1] = { state or 'none', record and record.messageId or '' }
    end
  elseif not record then
    replies[#replies + 1] = claim('claimed', messageId)
  elseif state == 'sent' then
    replies[#replies + 1] = { 'sent', record.messageId or '' }
  elseif state == 'claimed' and record.owner == owner then
    replies[#replies + 1] = claim('claimed', record.messageId or messageId)
  elseif state == 'claimed' and (tonumber(record.leaseUntil) or 0) > now then
    replies[#replies + 1] = { 'busy', record.messageId or '', tostring(record.leaseUntil) }
  elseif (state == 'claimed' and (record.via or via) == 'smtp') or force then
    replies[#replies + 1] = claim('reclaimed', record.messageId or messageId)
  else
    if state ~= 'unknown' then
      record.state = 'unknown'
      redis.call('HSET', KEYS[1], field, cjson.encode(record))
      redis.call('ZADD', KEYS[2], 0, member .. address)
    end
    replies[#replies + 1] = { 'unknown', record.messageId or '' }
  end
end
return replies
