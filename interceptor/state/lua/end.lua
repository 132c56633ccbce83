-- Mark a session ended (KEYS[1]: the session hash) without creating it when it
-- is already gone: HSET on a missing key would leave a key with no TTL.
-- Returns 1 when the session existed, 0 otherwise.
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'ended', '1')
  return 1
end
return 0
