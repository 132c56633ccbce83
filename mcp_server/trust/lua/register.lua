-- Record a session key unless the sid was revoked or holds another key.
-- KEYS: session, revoked marker. ARGV: "exp|public_key", ttl (s), public_key.
if redis.call('EXISTS', KEYS[2]) == 1 then return 'session_revoked' end
local value = redis.call('GET', KEYS[1])
local outcome = 'registered'
if value then
  local bar = string.find(value, '|', 1, true)
  if string.sub(value, bar + 1) ~= ARGV[3] then return 'session_conflict' end
  outcome = 'refreshed'
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return outcome
