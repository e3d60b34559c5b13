"""The Lua scripts behind every PresenceStore operation: one EVALSHA, one round trip,
atomic, returning the user's state before and after.

Keys of a session operation, in order: the session hash, the user's socket set, the
online flag, the user's choice hash, this instance's session index (a sorted set scored
by expiry, for the sweeper). Replies: {before count, after count, chosen before,
remembered before, chosen after, remembered after, choice known}. A choice of '' means
none; 'remembered' is '1' or '0'.
"""

from __future__ import annotations

_PRELUDE = """
local function read_choice(key)
  local v = redis.call('HMGET', key, 'c', 'r')
  if not v[1] then return '', '0', 0 end
  return v[1], v[2] or '0', 1
end

-- The flag says what other services may show: a user whose status others see as offline
-- (INVISIBLE) has no flag; `hidden` is ' NAME NAME ' from the registry.
local function set_flag(key, count, chosen, hidden, ttl)
  if count > 0 and not string.find(hidden, ' ' .. chosen .. ' ', 1, true) then
    redis.call('SET', key, 'true', 'PX', ttl)
  else
    redis.call('DEL', key)
  end
end

local function keep_choice(key, remembered, ttl)
  if remembered == '1' then redis.call('PERSIST', key) else redis.call('PEXPIRE', key, ttl) end
end

-- A choice that decays carries its due time ('d', ms) and sits in the decay index.
local function schedule_decay(choice_key, decays_key, user, due)
  if due == '' then
    redis.call('HDEL', choice_key, 'd')
    redis.call('ZREM', decays_key, user)
  else
    redis.call('HSET', choice_key, 'd', due)
    redis.call('ZADD', decays_key, due, user)
  end
end

-- ARGV: 1 user, 2 session, 3 expiresAt ms, 4 session ttl ms, 5 user keys ttl ms,
--       6 device, 7 connectedAt, 8 ip, 9 instance, 10 hidden
local function renew(keys, argv)
  if redis.call('SISMEMBER', keys[2], argv[2]) == 1 and redis.call('EXISTS', keys[1]) == 1 then
    redis.call('HSET', keys[1], 'expiresAt', argv[3])
  else
    redis.call('HSET', keys[1], 'device', argv[6], 'connectedAt', argv[7], 'ip', argv[8],
      'instance', argv[9], 'expiresAt', argv[3])
    redis.call('SADD', keys[2], argv[2])
  end
  redis.call('PEXPIRE', keys[1], argv[4])
  redis.call('PEXPIRE', keys[2], argv[5])
  redis.call('ZADD', keys[5], argv[3], argv[2] .. ':' .. argv[1])
end

-- ARGV: 1 user, 2 session, 3 user keys ttl ms, 4 hidden, 5 choice ttl ms
local function finish(keys, argv)
  local before = redis.call('SCARD', keys[2])
  local c, r, known = read_choice(keys[4])
  local removed = redis.call('SREM', keys[2], argv[2])
  redis.call('DEL', keys[1])
  redis.call('ZREM', keys[5], argv[2] .. ':' .. argv[1])
  local after = redis.call('SCARD', keys[2])
  local c2 = c
  if removed == 1 and after == 0 and known == 1 and r ~= '1' and c ~= '' then
    -- a choice that is not remembered ends with the last session
    redis.call('HSET', keys[4], 'c', '')
    redis.call('HDEL', keys[4], 'd')
    redis.call('PEXPIRE', keys[4], argv[5])
    c2 = ''
  end
  if removed == 1 then set_flag(keys[3], after, c2, argv[4], argv[3]) end
  return {before, after, c, r, c2, r, known}
end
"""

# KEYS as above, then 6 the seeding epoch: once the durable record's choices were copied
# in, a user with no choice hash chose nothing.
REGISTER = _PRELUDE + """
local before = redis.call('SCARD', KEYS[2])
local c, r, known = read_choice(KEYS[4])
if known == 0 then known = redis.call('EXISTS', KEYS[6]) end
renew(KEYS, ARGV)
local after = redis.call('SCARD', KEYS[2])
set_flag(KEYS[3], after, c, ARGV[10], ARGV[5])
return {before, after, c, r, c, r, known}
"""

# KEYS as REGISTER, then 6 the decay index.
# ARGV as REGISTER, then 11 chosen, 12 remembered, 13 choice ttl ms, 14 decays at ms or ''
CHOOSE = _PRELUDE + """
local before = redis.call('SCARD', KEYS[2])
local c, r = read_choice(KEYS[4])
renew(KEYS, ARGV)
redis.call('HSET', KEYS[4], 'c', ARGV[11], 'r', ARGV[12])
keep_choice(KEYS[4], ARGV[12], ARGV[13])
schedule_decay(KEYS[4], KEYS[6], ARGV[1], ARGV[14])
local after = redis.call('SCARD', KEYS[2])
set_flag(KEYS[3], after, ARGV[11], ARGV[10], ARGV[5])
return {before, after, c, r, ARGV[11], ARGV[12], 1}
"""

END = _PRELUDE + """
return finish(KEYS, ARGV)
"""

# ARGV as END, then 6 now ms: ends the session only if it is still due (not renewed since).
EXPIRE = _PRELUDE + """
local due = redis.call('HGET', KEYS[1], 'expiresAt')
if due and tonumber(due) > tonumber(ARGV[6]) then return false end
return finish(KEYS, ARGV)
"""

# KEYS: sockets, choice, online, decay index.
# ARGV: 1 chosen, 2 remembered, 3 hidden, 4 user keys ttl, 5 choice ttl, 6 decays at or '', 7 user
ADOPT = _PRELUDE + """
if redis.call('EXISTS', KEYS[2]) == 0 then
  redis.call('HSET', KEYS[2], 'c', ARGV[1], 'r', ARGV[2])
  keep_choice(KEYS[2], ARGV[2], ARGV[5])
  if ARGV[1] ~= '' then schedule_decay(KEYS[2], KEYS[4], ARGV[7], ARGV[6]) end
end
local c, r = read_choice(KEYS[2])
local count = redis.call('SCARD', KEYS[1])
set_flag(KEYS[3], count, c, ARGV[3], ARGV[4])
return {count, count, c, r, c, r, 1}
"""

# KEYS: sockets, choice, seeding epoch
STATE = _PRELUDE + """
local count = redis.call('SCARD', KEYS[1])
local c, r, known = read_choice(KEYS[2])
if known == 0 then known = redis.call('EXISTS', KEYS[3]) end
return {count, count, c, r, c, r, known}
"""

# KEYS: decay index. ARGV: 1 now ms, 2 limit. Claims (removes) what is due: {user, due, ...}
CLAIM_DECAYS = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due, 2 do redis.call('ZREM', KEYS[1], due[i]) end
return due
"""

# KEYS: choice, sockets, online, decay index.
# ARGV: 1 user, 2 status due, 3 due ms, 4 new status, 5 remembered, 6 next due ms or '',
#       7 hidden, 8 user keys ttl, 9 choice ttl
DECAY = _PRELUDE + """
local c, r = read_choice(KEYS[1])
if c ~= ARGV[2] or redis.call('HGET', KEYS[1], 'd') ~= ARGV[3] then return false end
local count = redis.call('SCARD', KEYS[2])
redis.call('HSET', KEYS[1], 'c', ARGV[4], 'r', ARGV[5])
keep_choice(KEYS[1], ARGV[5], ARGV[9])
schedule_decay(KEYS[1], KEYS[4], ARGV[1], ARGV[6])
if count > 0 then set_flag(KEYS[3], count, ARGV[4], ARGV[7], ARGV[8]) end
return {count, count, c, r, ARGV[4], ARGV[5], 1}
"""

# KEYS: choice, decay index. ARGV: 1 chosen, 2 remembered, 3 decays at or '', 4 user, 5 choice ttl.
# Copies one remembered choice from the durable record unless the user has one already.
SEED = _PRELUDE + """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], 'c', ARGV[1], 'r', ARGV[2])
keep_choice(KEYS[1], ARGV[2], ARGV[5])
schedule_decay(KEYS[1], KEYS[2], ARGV[4], ARGV[3])
return 1
"""
