-- Open break-glass for a live session that has none open (one atomic step across replicas).
-- KEYS[1] session hash, KEYS[2] the session's break-glass pointer, KEYS[3] the grant's record,
-- KEYS[4] the project's break-glass index (zset by opening time).
-- ARGV[1] grant id, ARGV[2] opened_at, ARGV[3] expires_at, ARGV[4] seconds the record is kept,
-- ARGV[5] the record key prefix, ARGV[6..] the record's field/value pairs.
-- Returns 'opened', 'already_open' or 'no_session'.
if redis.call('HGET', KEYS[1], 'ended') ~= '0' then
  return 'no_session'
end
local current = redis.call('GET', KEYS[2])
if current then
  local state = redis.call('HMGET', ARGV[5] .. current, 'closed_at', 'expires_at')
  if (not state[1] or state[1] == '') and state[2] and tonumber(state[2]) > tonumber(ARGV[2]) then
    return 'already_open'
  end
end
local fields = {}
for i = 6, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[3], unpack(fields))
redis.call('EXPIRE', KEYS[3], ARGV[4])
redis.call('SET', KEYS[2], ARGV[1], 'EXAT', ARGV[3])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[4])
return 'opened'
