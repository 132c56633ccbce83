-- Keep a held call for a person's decision, within the bounds (one atomic step across replicas).
-- KEYS[1] session hash, KEYS[2] approval hash, KEYS[3] the session's approvals (zset by creation),
-- KEYS[4] the project's approvals (zset by creation).
-- ARGV[1] approval id, ARGV[2] created_at, ARGV[3] window seconds, ARGV[4] per session, ARGV[5] per project,
-- ARGV[6] session expiry (unix seconds), ARGV[7..] the approval hash's field/value pairs.
-- Returns 'held', 'no_session', 'session_full' or 'project_full'.
if redis.call('HGET', KEYS[1], 'ended') ~= '0' then
  return 'no_session'  -- gone (nil) or ended ('1'): an approval never outlives its session
end
local since = tonumber(ARGV[2]) - tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', since)
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', since)
if redis.call('ZCARD', KEYS[3]) >= tonumber(ARGV[4]) then
  return 'session_full'
end
if redis.call('ZCARD', KEYS[4]) >= tonumber(ARGV[5]) then
  return 'project_full'
end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('EXPIREAT', KEYS[2], ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('EXPIREAT', KEYS[3], ARGV[6])
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[3])
return 'held'
