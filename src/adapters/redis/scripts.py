"""The Lua scripts behind every PresenceStore operation: one EVALSHA, one round trip,
atomic, returning the user's state before and after.

Keys of a session operation (REGISTER, CHOOSE, END, EXPIRE), in order:
  1 the session hash            5 this instance's session index (sorted set by expiry)
  2 the user's socket set       6 the seeding epoch (once seeded, no choice hash = none)
  3 the online flag             7 the decay index (sorted set by due time)
  4 the user's choice hash      8 the user's leaving marker (offline grace)
                                9 the grace index (sorted set by due time)
                               10 the user's devices hash (socket -> device and state; '#': seq)
                               11 the custom-status index (sorted set by expiry; CHOOSE only)
Replies: {before count, after count, chosen before, remembered before, chosen after,
remembered after, choice known, lingering before, lingering after, sockets before,
sockets after, seq, custom before, custom after}. A choice of '' means none; 'remembered'
is '1' or '0'. The custom status is field 'x' of the choice hash, 'text US emoji US
expires ms' ('' for none; an empty emoji or expiry for none: text and emoji are printable,
so they hold no separator), kept as long as a remembered choice is. Fields 'i' and 'k'
of the choice hash are the decay of the shown status (follow_devices). Sockets are
'device US state' joined by RS (US, RS: the ASCII unit and record separators, which no
device kind or status name holds); a state is ONLINE (active) or a socket-scoped status.
"""

from __future__ import annotations

_PRELUDE = """
-- The sockets, packed, and the user's seq ('#'), in one read.
local function sockets_of(key)
  local all = redis.call('HGETALL', key)
  local parts = {}
  local seq = '0'
  for i = 1, #all, 2 do
    if all[i] == '#' then seq = all[i + 1] else parts[#parts + 1] = all[i + 1] end
  end
  return table.concat(parts, '\\30'), seq
end

-- The user's next version: above the last, never below Redis's clock in ms (one clock
-- for every instance), so a Redis that lost the last one still goes forward.
-- `last` is the seq as sockets_of read it in this call (nil: read it here).
local function bump(key, ttl, last)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local s = tonumber(last or redis.call('HGET', key, '#') or '0') + 1
  if now > s then s = now end
  s = string.format('%d', s)
  redis.call('HSET', key, '#', s)
  redis.call('PEXPIRE', key, ttl)
  return s
end

-- Also the decay of the shown status ('i', 'k': follow_devices), the due time ('d') and
-- the custom status ('x', '' for none), read in the same call.
local function read_choice(key)
  local v = redis.call('HMGET', key, 'c', 'r', 'i', 'k', 'd', 'x')
  if not v[1] then return '', '0', 0, v[3], v[4], v[5], v[6] or '' end
  return v[1], v[2] or '0', 1, v[3], v[4], v[5], v[6] or ''
end

local function read_custom(key)
  return redis.call('HGET', key, 'x') or ''
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

-- Kept for good while it holds a remembered choice or a custom status.
local function keep_choice(key, remembered, ttl)
  if remembered == '1' or redis.call('HEXISTS', key, 'x') == 1 then
    redis.call('PERSIST', key)
  else
    redis.call('PEXPIRE', key, ttl)
  end
end

-- Sets ('' clears) the custom status, its expiry ('' for none) in the custom index.
local function set_custom(choice_key, customs_key, user, packed, expires, remembered, ttl)
  if packed == '' then
    redis.call('HDEL', choice_key, 'x')
  else
    redis.call('HSET', choice_key, 'x', packed)
  end
  if expires == '' then
    redis.call('ZREM', customs_key, user)
  else
    redis.call('ZADD', customs_key, expires, user)
  end
  keep_choice(choice_key, remembered, ttl)
end

-- `flag` '1' sets the custom status to `packed` (set_custom); returns the custom status after.
local function custom_after(flag, x, choice_key, customs_key, user, packed, expires, remembered, ttl)
  if flag ~= '1' then return x end
  set_custom(choice_key, customs_key, user, packed, expires, remembered, ttl)
  return packed
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

-- A choice replaces the devices' decay ('i', 'k': follow_devices).
local function set_choice(choice_key, c, r)
  redis.call('HSET', choice_key, 'c', c, 'r', r)
  redis.call('HDEL', choice_key, 'i', 'k')
end

-- Decay follows the shown status (rich_presence.ShownDecays): while no user-wide choice
-- stands and every socket is in a socket-scoped status, the decay of the one shown falls
-- due ('i' names it, 'd' holds when, in the decay index); a socket active again cancels
-- it and ends the choice such a decay made ('k'). `order` is the socket-scoped statuses
-- in declared order, 'name US due ms' ('' for no decay) joined by RS; `i` and `k` are the
-- fields as read_choice read them; `active` is true when the event made a socket active
-- (then the sockets need no reading). Returns the choice after.
local function follow_devices(choice_key, decays_key, user, c, r, i, k, sockets, order, active)
  if not i and not k and (active or order == '') then return c, r end -- the common case
  local names, present = {}, {}
  for name in string.gmatch(order, '([^\\30\\31]+)\\31') do names[name] = true end
  local any = active or false
  for state in string.gmatch(sockets, '\\31([^\\30]*)') do
    any = true
    present[state] = true
    if not names[state] then active = true end
  end
  if not any or active then
    if i then
      redis.call('HDEL', choice_key, 'i', 'd')
      redis.call('ZREM', decays_key, user)
    end
    if any and k then
      redis.call('HSET', choice_key, 'c', '', 'r', '0')
      redis.call('HDEL', choice_key, 'k', 'd')
      redis.call('ZREM', decays_key, user)
      return '', '0'
    end
    return c, r
  end
  if i or k or (c ~= '' and c ~= 'ONLINE' and not names[c]) then return c, r end
  for name, due in string.gmatch(order, '([^\\30\\31]+)\\31([^\\30]*)') do
    if present[name] then
      if due ~= '' then
        redis.call('HSET', choice_key, 'i', name, 'd', due)
        redis.call('ZADD', decays_key, due, user)
      end
      return c, r
    end
  end
  return c, r
end

-- A choice that is not remembered ends when the user is gone for good.
local function forget_unremembered(choice_key, c, r, known, ttl)
  if known == 1 and r ~= '1' and c ~= '' then
    redis.call('HSET', choice_key, 'c', '')
    redis.call('HDEL', choice_key, 'd', 'k')
    keep_choice(choice_key, '0', ttl)
    return ''
  end
  return c
end

-- Common session ARGV: 1 user, 2 session, 3 expiresAt ms, 4 session ttl ms, 5 user keys ttl ms,
--                      6 device, 7 connectedAt, 8 ip, 9 instance, 10 hidden
local function renew(keys, argv)
  local new = 0
  if redis.call('SISMEMBER', keys[2], argv[2]) == 1 and redis.call('EXISTS', keys[1]) == 1 then
    redis.call('HSET', keys[1], 'expiresAt', argv[3])
  else
    new = 1
    redis.call('HSET', keys[1], 'device', argv[6], 'connectedAt', argv[7], 'ip', argv[8],
      'instance', argv[9], 'expiresAt', argv[3])
    redis.call('SADD', keys[2], argv[2])
    redis.call('HSET', keys[10], argv[2], argv[6] .. '\\31' .. 'ONLINE')
  end
  redis.call('PEXPIRE', keys[1], argv[4])
  redis.call('PEXPIRE', keys[2], argv[5])
  redis.call('ZADD', keys[5], argv[3], argv[2] .. ':' .. argv[1])
  return new
end

-- Registering a session while the user lingers (grace) cancels their going offline.
local function arrive(keys, user, before)
  if before == 0 and redis.call('EXISTS', keys[8]) == 1 then
    redis.call('DEL', keys[8])
    redis.call('ZREM', keys[9], user)
    return 1
  end
  return 0
end

-- End ARGV: 1 user, 2 session, 3 user keys ttl ms, 4 hidden, 5 choice ttl ms.
-- `grace_due` ('' for none) keeps a user whose last session ends as they were until then.
local function finish(keys, argv, grace_due, grace_ttl, order)
  local before = redis.call('SCARD', keys[2])
  local c, r, known, i, k, _, x = read_choice(keys[4])
  local sb, seq = sockets_of(keys[10])
  local removed = redis.call('SREM', keys[2], argv[2])
  redis.call('DEL', keys[1])
  redis.call('HDEL', keys[10], argv[2])
  redis.call('ZREM', keys[5], argv[2] .. ':' .. argv[1])
  local after = redis.call('SCARD', keys[2])
  local c2, r2 = c, r
  local sa = sockets_of(keys[10])
  local lingering = 0
  if removed == 1 then c2, r2 = follow_devices(keys[4], keys[7], argv[1], c, r, i, k, sa, order) end
  if removed == 1 and after == 0 and grace_due ~= '' then
    redis.call('SET', keys[8], grace_due, 'PX', grace_ttl)
    redis.call('ZADD', keys[9], grace_due, argv[1])
    lingering = 1
  elseif removed == 1 then
    if after == 0 then c2 = forget_unremembered(keys[4], c2, r2, known, argv[5]) end
    set_flag(keys[3], after, c2, argv[4], argv[3])
  end
  return {before, after, c, r, c2, r2, known, 0, lingering, sb, sa, bump(keys[10], argv[3], seq), x, x}
end
"""

REGISTER = _PRELUDE + """
local before = redis.call('SCARD', KEYS[2])
local c, r, known, i, k, _, x = read_choice(KEYS[4])
if known == 0 then known = redis.call('EXISTS', KEYS[6]) end
local sb, seq = sockets_of(KEYS[10])
local lingered = arrive(KEYS, ARGV[1], before)
local new = renew(KEYS, ARGV)
local after = redis.call('SCARD', KEYS[2])
if new == 0 and lingered == 0 then
  -- A ping: nobody sees a difference, so the devices are as they were and seq stays.
  set_flag(KEYS[3], after, c, ARGV[10], ARGV[5])
  redis.call('PEXPIRE', KEYS[10], ARGV[5])
  return {before, after, c, r, c, r, known, 0, 0, sb, sb, seq, x, x}
end
local sa = sockets_of(KEYS[10])
local c2, r2 = c, r
if new == 1 then c2, r2 = follow_devices(KEYS[4], KEYS[7], ARGV[1], c, r, i, k, sa, ARGV[11], true) end
set_flag(KEYS[3], after, c2, ARGV[10], ARGV[5])
return {before, after, c, r, c2, r2, known, lingered, 0, sb, sa, bump(KEYS[10], ARGV[5], seq), x, x}
"""

# Held pings, renewed later (PresenceService.sweep): ARGV as REGISTER (1-10; the device,
# connectedAt and ip unused). A session that ended stays ended (0); an expiry already
# further out stays.
RENEW = _PRELUDE + """
if redis.call('SISMEMBER', KEYS[2], ARGV[2]) == 0 or redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if tonumber(redis.call('HGET', KEYS[1], 'expiresAt') or '0') >= tonumber(ARGV[3]) then return 1 end
local c = read_choice(KEYS[4])
renew(KEYS, ARGV)
set_flag(KEYS[3], redis.call('SCARD', KEYS[2]), c, ARGV[10], ARGV[5])
redis.call('PEXPIRE', KEYS[10], ARGV[5])
return 1
"""

# ARGV as REGISTER (1-10), then 11 chosen ('' keeps the choice), 12 remembered, 13 choice
# ttl ms, 14 decays at ms or '', 15 the socket's state ('' keeps it), 16 '1' sets the custom
# status to 17 (packed, '' clears it), due to clear at 18 (ms, or ''), 19 the shown decays
CHOOSE = _PRELUDE + """
local before = redis.call('SCARD', KEYS[2])
local c, r, known, i, k, _, x = read_choice(KEYS[4])
local sb, seq = sockets_of(KEYS[10])
local lingered = arrive(KEYS, ARGV[1], before)
renew(KEYS, ARGV)
if ARGV[15] ~= '' then redis.call('HSET', KEYS[10], ARGV[2], ARGV[6] .. '\\31' .. ARGV[15]) end
local c2, r2 = c, r
if ARGV[11] ~= '' then
  set_choice(KEYS[4], ARGV[11], ARGV[12])
  keep_choice(KEYS[4], ARGV[12], ARGV[13])
  schedule_decay(KEYS[4], KEYS[7], ARGV[1], ARGV[14])
  c2, r2, known, i, k = ARGV[11], ARGV[12], 1, false, false
elseif known == 0 then
  known = redis.call('EXISTS', KEYS[6])
end
local x2 = custom_after(ARGV[16], x, KEYS[4], KEYS[11], ARGV[1], ARGV[17], ARGV[18], r2, ARGV[13])
local after = redis.call('SCARD', KEYS[2])
local sa = sockets_of(KEYS[10])
c2, r2 = follow_devices(KEYS[4], KEYS[7], ARGV[1], c2, r2, i, k, sa, ARGV[19], ARGV[15] == 'ONLINE')
set_flag(KEYS[3], after, c2, ARGV[10], ARGV[5])
return {before, after, c, r, c2, r2, known, lingered, 0, sb, sa, bump(KEYS[10], ARGV[5], seq), x, x2}
"""

# ARGV as finish, then 6 grace due ms or '', 7 grace marker ttl ms, 8 the shown decays
END = _PRELUDE + """
return finish(KEYS, ARGV, ARGV[6], ARGV[7], ARGV[8])
"""

# ARGV as finish, then 6 now ms, 7 the shown decays: ends the session only if it is still
# due (not renewed since). An expired session has been silent for its whole TTL: no grace.
EXPIRE = _PRELUDE + """
local due = redis.call('HGET', KEYS[1], 'expiresAt')
if due and tonumber(due) > tonumber(ARGV[6]) then return false end
return finish(KEYS, ARGV, '', 0, ARGV[7])
"""

# KEYS: sockets, online, choice, leaving marker, grace index, devices.
# ARGV: 1 user, 2 due ms, 3 hidden, 4 user keys ttl, 5 choice ttl.
# The grace ran out with no new session: the user goes offline now.
FINISH_GRACE = _PRELUDE + """
if redis.call('GET', KEYS[4]) ~= ARGV[2] then
  if redis.call('ZSCORE', KEYS[5], ARGV[1]) == ARGV[2] then redis.call('ZREM', KEYS[5], ARGV[1]) end
  return false
end
redis.call('DEL', KEYS[4])
redis.call('ZREM', KEYS[5], ARGV[1])
local count = redis.call('SCARD', KEYS[1])
local c, r, known = read_choice(KEYS[3])
local x = read_custom(KEYS[3])
local c2 = forget_unremembered(KEYS[3], c, r, known, ARGV[5])
set_flag(KEYS[2], count, c2, ARGV[3], ARGV[4])
local sockets = sockets_of(KEYS[6])
return {count, count, c, r, c2, r, known, 1, 0, sockets, sockets, bump(KEYS[6], ARGV[4]), x, x}
"""

# KEYS: sockets, choice, online, decay index, devices, custom index.
# ARGV: 1 chosen, 2 remembered, 3 hidden, 4 user keys ttl, 5 choice ttl, 6 decays at or '', 7 user,
#       8 custom status (packed, or ''), 9 its expiry ms or ''
# A custom status set since the store lost the user is kept.
ADOPT = _PRELUDE + """
local seq = redis.call('HGET', KEYS[5], '#') or '0'
if redis.call('HEXISTS', KEYS[2], 'c') == 0 then
  seq = bump(KEYS[5], ARGV[4])
  set_choice(KEYS[2], ARGV[1], ARGV[2])
  if ARGV[8] ~= '' and redis.call('HEXISTS', KEYS[2], 'x') == 0 then
    set_custom(KEYS[2], KEYS[6], ARGV[7], ARGV[8], ARGV[9], ARGV[2], ARGV[5])
  end
  keep_choice(KEYS[2], ARGV[2], ARGV[5])
  if ARGV[1] ~= '' then schedule_decay(KEYS[2], KEYS[4], ARGV[7], ARGV[6]) end
end
local c, r = read_choice(KEYS[2])
local x = read_custom(KEYS[2])
local count = redis.call('SCARD', KEYS[1])
if count > 0 then set_flag(KEYS[3], count, c, ARGV[3], ARGV[4]) end
local sockets = sockets_of(KEYS[5])
return {count, count, c, r, c, r, 1, 0, 0, sockets, sockets, seq, x, x}
"""

# KEYS: sockets, choice, online, decay index, devices, leaving marker, custom index.
# ARGV: 1 chosen, 2 remembered, 3 hidden, 4 user keys ttl, 5 choice ttl, 6 decays at or '', 7 user,
#       8 '1' sets the choice, 9 '1' sets the custom status to 10 (packed, '' clears it),
#       due to clear at 11 (ms, or '')
# The server API's status: set whether the user is connected or not (a choice that is not
# remembered ends at once for a user with no session and no grace).
IMPOSE = _PRELUDE + """
local count = redis.call('SCARD', KEYS[1])
local c, r, known = read_choice(KEYS[2])
local x = read_custom(KEYS[2])
local lingering = 0
if count == 0 then lingering = redis.call('EXISTS', KEYS[6]) end
local c2, r2 = c, r
if ARGV[8] == '1' then
  c2, r2, known = ARGV[1], ARGV[2], 1
  if count == 0 and lingering == 0 and r2 ~= '1' then c2 = '' end
  redis.call('HSET', KEYS[2], 'c', c2, 'r', r2)
  if c2 == '' then schedule_decay(KEYS[2], KEYS[4], ARGV[7], '') else schedule_decay(KEYS[2], KEYS[4], ARGV[7], ARGV[6]) end
end
local x2 = custom_after(ARGV[9], x, KEYS[2], KEYS[7], ARGV[7], ARGV[10], ARGV[11], r2, ARGV[5])
keep_choice(KEYS[2], r2, ARGV[5])
if count > 0 then set_flag(KEYS[3], count, c2, ARGV[3], ARGV[4]) end
local sockets = sockets_of(KEYS[5])
return {count, count, c, r, c2, r2, known, lingering, lingering, sockets, sockets, bump(KEYS[5], ARGV[4]), x, x2}
"""

# KEYS: 1 the seeding epoch, then for each user: sockets, choice, leaving marker, devices.
# Each user's state, for many users in one call (a snapshot of the users a socket
# watches), one line per user, tab-separated: count, chosen, remembered, choice known,
# lingering, seq, sockets, custom status (status names and custom texts are printable: no
# tab, no newline).
STATES = _PRELUDE + """
local seeded = redis.call('EXISTS', KEYS[1])
local lines = {}
for i = 2, #KEYS, 4 do
  local count = redis.call('SCARD', KEYS[i])
  local c, r, known = read_choice(KEYS[i + 1])
  if known == 0 then known = seeded end
  local lingering = 0
  if count == 0 then lingering = redis.call('EXISTS', KEYS[i + 2]) end
  local seq = redis.call('HGET', KEYS[i + 3], '#') or '0'
  lines[#lines + 1] = count .. '\\t' .. c .. '\\t' .. r .. '\\t' .. known .. '\\t' .. lingering
    .. '\\t' .. seq .. '\\t' .. sockets_of(KEYS[i + 3]) .. '\\t' .. read_custom(KEYS[i + 1])
end
return table.concat(lines, '\\n')
"""

# KEYS: a sorted-set index. ARGV: 1 now ms, 2 limit. Claims (removes) what is due:
# {member, due, member, due, ...}; each claimed item goes to one caller only.
CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due, 2 do redis.call('ZREM', KEYS[1], due[i]) end
return due
"""

# KEYS: 1 a bucket's sweep claim, 2 that bucket's index. ARGV: 1 now ms, 2 limit,
#       3 instance, 4 claim ttl ms. CLAIM_DUE for the instance holding the bucket's claim
#       (taken when free, renewed by each sweep); another instance gets nothing this round.
CLAIM_BUCKET_DUE = """
local holder = redis.call('GET', KEYS[1])
if holder and holder ~= ARGV[3] then return false end
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'WITHSCORES', 'LIMIT', 0, tonumber(ARGV[2]))
for i = 1, #due, 2 do redis.call('ZREM', KEYS[2], due[i]) end
return due
"""

# KEYS: choice, sockets, online, decay index, devices.
# ARGV: 1 user, 2 status due, 3 due ms, 4 new status, 5 remembered, 6 next due ms or '',
#       7 hidden, 8 user keys ttl, 9 choice ttl
# The decay of the devices' status (or of what it made, 'k') makes a choice that lasts
# while they stay idle: not remembered, and ended by a socket active again.
DECAY = _PRELUDE + """
local c, r, _, i, k, d = read_choice(KEYS[1])
if (i or c) ~= ARGV[2] or d ~= ARGV[3] then return false end
local x = read_custom(KEYS[1])
local count = redis.call('SCARD', KEYS[2])
local r2 = ARGV[5]
if i or k then r2 = '0' end
set_choice(KEYS[1], ARGV[4], r2)
if i or k then redis.call('HSET', KEYS[1], 'k', '1') end
keep_choice(KEYS[1], r2, ARGV[9])
schedule_decay(KEYS[1], KEYS[4], ARGV[1], ARGV[6])
if count > 0 then set_flag(KEYS[3], count, ARGV[4], ARGV[7], ARGV[8]) end
local sockets = sockets_of(KEYS[5])
return {count, count, c, r, ARGV[4], r2, 1, 0, 0, sockets, sockets, bump(KEYS[5], ARGV[8]), x, x}
"""

# KEYS: choice, sockets, custom index, devices. ARGV: 1 user, 2 due ms, 3 user keys ttl, 4 choice ttl.
# Clears the custom status that was due, unless another was set since.
CLEAR_CUSTOM = _PRELUDE + """
local x = read_custom(KEYS[1])
local expires = string.match(x, '\\31[^\\31]*\\31(%d+)$')
if expires ~= ARGV[2] then return false end
redis.call('ZREM', KEYS[3], ARGV[1])
local c, r, known = read_choice(KEYS[1])
redis.call('HDEL', KEYS[1], 'x')
keep_choice(KEYS[1], r, ARGV[4])
local count = redis.call('SCARD', KEYS[2])
local sockets = sockets_of(KEYS[4])
return {count, count, c, r, c, r, known, 0, 0, sockets, sockets, bump(KEYS[4], ARGV[3]), x, ''}
"""

# KEYS: choice, decay index, custom index. ARGV: 1 chosen ('' for none), 2 remembered,
# 3 decays at or '', 4 user, 5 choice ttl, 6 custom status (packed, or ''), 7 its expiry or ''.
# Copies one remembered choice and custom status from the durable record unless the store
# knows the user already; a custom status set since the store lost the user is newer and
# kept (as ADOPT keeps it), with its own expiry.
SEED = _PRELUDE + """
if redis.call('HEXISTS', KEYS[1], 'c') == 1 then return 0 end
set_choice(KEYS[1], ARGV[1], ARGV[2])
if ARGV[6] ~= '' and redis.call('HEXISTS', KEYS[1], 'x') == 0 then
  set_custom(KEYS[1], KEYS[3], ARGV[4], ARGV[6], ARGV[7], ARGV[2], ARGV[5])
end
keep_choice(KEYS[1], ARGV[2], ARGV[5])
if ARGV[1] ~= '' then schedule_decay(KEYS[1], KEYS[2], ARGV[4], ARGV[3]) end
return 1
"""

# KEYS: this instance's lease, the instance registry. ARGV: 1 instance, 2 ttl ms, 3 now ms.
# Returns 1 if the lease was still held (0: it lapsed, and survivors may have taken over).
RENEW_LEASE = """
local held = redis.call('EXISTS', KEYS[1])
redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[2])
redis.call('ZADD', KEYS[2], tonumber(ARGV[3]) + tonumber(ARGV[2]), ARGV[1])
return held
"""

# KEYS: this instance's lease, the instance registry. ARGV: 1 instance.
RELEASE_LEASE = """
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
"""

# KEYS: the lease of a candidate, the instance registry. ARGV: 1 candidate instance.
# Exactly one survivor gets 1 for a dead instance; a live one (lease held) gives 0.
CLAIM_INSTANCE = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""

# KEYS as a session operation (1-10), then 11 the user's restored-choice note.
# ARGV as REGISTER (1-10), then 11 choice known ('1'/'0'), 12 chosen, 13 remembered,
#       14 as-of ms, 15 choice ttl ms, 16 decays at ms or '', 17 note ttl ms.
# Puts back a session this instance holds after Redis lost it (restore.py). The hinted
# choice is written unless the user has one that is newer: one set since the loss (a
# choice hash with no note), or one restored from a later hint by another instance.
RESTORE = _PRELUDE + """
renew(KEYS, ARGV)
redis.call('PEXPIRE', KEYS[10], ARGV[5])
if ARGV[11] == '1' then
  local current = redis.call('HGET', KEYS[4], 'c')
  local note = redis.call('HMGET', KEYS[11], 'at', 'c')
  if not current or (note[1] and note[2] == current and tonumber(note[1]) < tonumber(ARGV[14])) then
    set_choice(KEYS[4], ARGV[12], ARGV[13])
    keep_choice(KEYS[4], ARGV[13], ARGV[15])
    schedule_decay(KEYS[4], KEYS[7], ARGV[1], ARGV[16])
    redis.call('HSET', KEYS[11], 'at', ARGV[14], 'c', ARGV[12])
    redis.call('PEXPIRE', KEYS[11], ARGV[17])
  end
end
local c = read_choice(KEYS[4])
set_flag(KEYS[3], redis.call('SCARD', KEYS[2]), c, ARGV[10], ARGV[5])
return 1
"""
