-- Keep a held call for a person's decision, within the bounds (one atomic step across replicas).
-- KEYS[1] session hash, KEYS[2] approval hash, KEYS[3] the session's approvals (zset by creation),
-- KEYS[4] the project's approvals (zset by creation), KEYS[5] the session's pending approvals and
-- KEYS[6] the project's pending approvals (zsets by expiry: what the bounds count).
-- ARGV[1] approval id, ARGV[2] created_at, ARGV[3] window seconds, ARGV[4] per session, ARGV[5] per project,
-- ARGV[6] the approval's expiry (unix seconds), ARGV[7..] its field/value pairs; the session's expiry
-- (what the records live to) is read from the session hash.
-- Returns 'held', 'no_session', 'session_full' or 'project_full'.
local session = redis.call('HMGET', KEYS[1], 'ended', 'expires_at')
if session[1] ~= '0' then
  return 'no_session'  -- gone (nil) or ended ('1'): an approval never outlives its session
end
local session_expiry = session[2]
local now = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - tonumber(ARGV[3]))
redis.call('ZREMRANGEBYSCORE', KEYS[4], '-inf', now - tonumber(ARGV[3]))
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', now)  -- expired: no longer pending
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', now)
if redis.call('ZCARD', KEYS[5]) >= tonumber(ARGV[4]) then
  return 'session_full'
end
if redis.call('ZCARD', KEYS[6]) >= tonumber(ARGV[5]) then
  return 'project_full'
end
local fields = {}
for i = 7, #ARGV do fields[#fields + 1] = ARGV[i] end
redis.call('HSET', KEYS[2], unpack(fields))
redis.call('EXPIREAT', KEYS[2], session_expiry)
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
redis.call('EXPIREAT', KEYS[3], session_expiry)
redis.call('ZADD', KEYS[4], ARGV[2], ARGV[1])
redis.call('EXPIRE', KEYS[4], ARGV[3])
redis.call('ZADD', KEYS[5], ARGV[6], ARGV[1])
redis.call('EXPIREAT', KEYS[5], session_expiry)
redis.call('ZADD', KEYS[6], ARGV[6], ARGV[1])
redis.call('EXPIRE', KEYS[6], ARGV[3])
return 'held'
