-- Revoke a session for every replica. The marker outlives any registration token that
-- could re-open the session (session end + leeway), or max_session when the sid is unknown.
-- KEYS: session, revoked marker. ARGV: now, leeway, default ttl (s).
local value = redis.call('GET', KEYS[1])
local ttl = tonumber(ARGV[3])
local live = 0
if value then
  local exp = tonumber(string.match(value, '^(%d+)|'))
  ttl = math.max(1, exp + tonumber(ARGV[2]) + 1 - tonumber(ARGV[1]))
  if exp > tonumber(ARGV[1]) then live = 1 end
end
local current = redis.call('TTL', KEYS[2])
if current > ttl then ttl = current end
redis.call('SET', KEYS[2], '1', 'EX', ttl)
redis.call('DEL', KEYS[1])
return live
