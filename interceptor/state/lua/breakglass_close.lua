-- Close a break-glass that is still active. KEYS[1] its record, KEYS[2] its session's pointer.
-- ARGV[1] by, ARGV[2] at (unix seconds). Returns 1 when closed now, 0 otherwise.
local state = redis.call('HMGET', KEYS[1], 'id', 'closed_at', 'expires_at')
if not state[1] or (state[2] and state[2] ~= '') or tonumber(state[3]) <= tonumber(ARGV[2]) then
  return 0
end
redis.call('HSET', KEYS[1], 'closed_at', ARGV[2], 'closed_by', ARGV[1])
if redis.call('GET', KEYS[2]) == state[1] then
  redis.call('DEL', KEYS[2])
end
return 1
