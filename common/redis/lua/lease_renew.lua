-- lease_renew: extend a named lease, only for the holder of its token. Unlike
-- lease_acquire it never takes a free lease: a 0 answer tells a holder that it lost the
-- lease (it expired, maybe another replica holds it now) and must stop acting as holder.
--
-- KEYS[1] the lease (see lease_acquire.lua).
-- ARGV[1] token   the holder's token (non-empty).
-- ARGV[2] ttl_ms  expiry from now (integer >= 1).
-- Returns {1, holder, ttl_ms, epoch}: renewed.
--         {0, holder, pttl, epoch}: not ours; holder is "" and pttl -2 when it is free.
-- Errors: "ERR lease_renew: <what>" for a bad argument.
-- Complexity: O(1).
local token, ttl = ARGV[1], tonumber(ARGV[2])
if token == nil or token == '' then
    return redis.error_reply('ERR lease_renew: token must not be empty')
end
if ttl == nil or ttl ~= math.floor(ttl) or ttl < 1 then
    return redis.error_reply('ERR lease_renew: ttl_ms must be an integer >= 1, got ' .. tostring(ARGV[2]))
end
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token', 'epoch')
if cur[2] == token then
    redis.call('PEXPIRE', KEYS[1], ttl)
    return {1, cur[1] or '', ttl, tonumber(cur[3] or '0')}
end
return {0, cur[1] or '', redis.call('PTTL', KEYS[1]), tonumber(cur[3] or '0')}
