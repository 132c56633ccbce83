-- Compare-and-set of one session's facts (KEYS[1]: the session hash).
-- ARGV[1]: the version the decision was based on; ARGV[2]: the new facts JSON;
-- ARGV[3]: the new version (equal to ARGV[1] when the decision changes nothing:
-- the check still has to see the version unchanged, so no write can slip in
-- between a taint and the check it should have failed).
-- Returns {1} committed; {0, version, facts} stale; {-1} session gone or ended.
-- Policy is not re-implemented here: the pure engine decided, this only makes
-- "decided on version N" and "N is still current" one atomic step.
local cur = redis.call('HMGET', KEYS[1], 'version', 'ended', 'facts')
if not cur[1] or cur[2] == '1' then
  return {-1}
end
if cur[1] ~= ARGV[1] then
  return {0, cur[1], cur[3]}
end
if ARGV[3] ~= ARGV[1] then
  redis.call('HSET', KEYS[1], 'version', ARGV[3], 'facts', ARGV[2])
end
return {1}
