-- Count one request against every limit it falls under, atomically across replicas: either every
-- counter goes up by one, or (one of them is full) none does and the answer says when to retry.
-- KEYS: the counters (one per limit and window). ARGV: for each, its maximum and the unix second
-- its window ends (its TTL), in KEYS order; then ARGV[#KEYS * 2 + 1]: now.
-- Returns 0 when counted, else the seconds until the first full counter's window ends (at least 1).
local now = tonumber(ARGV[#KEYS * 2 + 1])
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  if used + 1 > tonumber(ARGV[i * 2 - 1]) then
    return math.max(1, tonumber(ARGV[i * 2]) - now)
  end
end
for i, key in ipairs(KEYS) do
  redis.call('INCR', key)
  redis.call('EXPIREAT', key, ARGV[i * 2])
end
return 0
