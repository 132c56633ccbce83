-- Mark a session ended (KEYS[1]: the session hash) without creating it when it
-- is already gone: HSET on a missing key would leave a key with no TTL; and
-- remove the session's approvals (KEYS[2]: their zset, KEYS[3]: its pending ones; ARGV[1]: the approval
-- key prefix; ARGV[2]: the prefix of a project's pending approvals, followed by the project's name).
-- Returns 1 when the session existed, 0 otherwise.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'ended', '1')
  local pending = ARGV[2] .. redis.call('HGET', KEYS[1], 'project')
  for _, id in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
    redis.call('DEL', ARGV[1] .. id)
    redis.call('ZREM', pending, id)
  end
  redis.call('DEL', KEYS[2], KEYS[3])
  return 1
end
return 0
