-- After a call token's signature verified: is the session still live, and is the jti new?
-- One round trip, atomic. KEYS: session, revoked marker, jti.
-- ARGV: now (unix s), jti ttl (s), check_session ("1"/"0").
if ARGV[3] == '1' then
  if redis.call('EXISTS', KEYS[2]) == 1 then return 'session_revoked' end
  local value = redis.call('GET', KEYS[1])
  if not value then return 'unknown_session' end
  local exp = tonumber(string.match(value, '^(%d+)|'))
  if exp <= tonumber(ARGV[1]) then return 'session_expired' end
end
if redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[2]) then return 'ok' end
return 'replayed_jti'
