-- lock_renew: extend a window lock, only for the holder of its token. A holder renews
-- at about a third of the expiry while it pages; a 0 answer means the lock was lost
-- (expired, possibly taken by another holder): stop and do not complete the window.
--
-- KEYS[1] the window's lock (see lock_acquire.lua).
-- ARGV[1] token   the holder's token (non-empty).
-- ARGV[2] ttl_ms  new expiry from now (integer >= 1).
-- Returns {1, ttl_ms}: renewed.
--         {0, pttl}: not ours; pttl is what the other holder has left, -2 when free.
-- Errors: "ERR lock_renew: <what>" for a bad argument.
-- Complexity: O(1).
local token = ARGV[1]
local ttl = tonumber(ARGV[2])
if token == nil or token == '' then
    return redis.error_reply('ERR lock_renew: token must not be empty')
end
if ttl == nil or ttl ~= math.floor(ttl) or ttl < 1 then
    return redis.error_reply('ERR lock_renew: ttl_ms must be an integer >= 1, got ' .. tostring(ARGV[2]))
end
if redis.call('GET', KEYS[1]) == token then
    redis.call('PEXPIRE', KEYS[1], ttl)
    return {1, ttl}
end
return {0, redis.call('PTTL', KEYS[1])}
