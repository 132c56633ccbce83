-- Decide a pending approval once. KEYS[1] approval hash, KEYS[2] its grant (sid, tool, argument hash),
-- KEYS[3] and KEYS[4] the session's and the project's pending approvals (it leaves them).
-- ARGV[1] status (approved|denied), ARGV[2] by, ARGV[3] at (unix seconds), ARGV[4] note.
-- Returns 1 when decided now, 0 when it was not pending or has expired, -1 when unknown.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return -1
end
local state = redis.call('HMGET', KEYS[1], 'status', 'expires_at')
if state[1] ~= 'pending' or tonumber(ARGV[3]) >= tonumber(state[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'decided_by', ARGV[2], 'decided_at', ARGV[3], 'note', ARGV[4])
local id = redis.call('HGET', KEYS[1], 'id')
redis.call('ZREM', KEYS[3], id)
redis.call('ZREM', KEYS[4], id)
if ARGV[1] == 'approved' then
  redis.call('SET', KEYS[2], id, 'EXAT', state[2])
end
return 1
