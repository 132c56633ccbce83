-- Use the approval of exactly this call, once. KEYS[1] the grant (sid, tool, argument hash),
-- KEYS[2] the approval hash it names (read by the caller first; checked again here).
-- ARGV[1] approval id, ARGV[2] now (unix seconds). Returns 1 when this caller got it, 0 otherwise.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return 0
end
local state = redis.call('HMGET', KEYS[2], 'status', 'expires_at')
if state[1] ~= 'approved' or tonumber(ARGV[2]) >= tonumber(state[2]) then
  return 0
end
redis.call('HSET', KEYS[2], 'status', 'used')
redis.call('DEL', KEYS[1])
return 1
