-- lease_acquire: take a named lease (one active scheduler) or renew it when the caller
-- already holds it. The lease expires unless renewed, so a killed holder loses it after
-- ttl_ms and another replica takes over. Each new holder gets an epoch that only grows
-- (max(last + 1, Redis TIME in us)), usable as a fencing token for the holder's writes.
--
-- KEYS[1] the lease: hash holder (a name for messages), token (random, the proof of
--         holding), epoch; with a PX expiry.
-- KEYS[2] the last epoch issued: string, no expiry.
-- ARGV[1] holder  who is asking (non-empty; e.g. host name and pid).
-- ARGV[2] token   the caller's random token (non-empty).
-- ARGV[3] ttl_ms  expiry from now (integer >= 1).
-- Returns {1, holder, ttl_ms, epoch}: the caller holds it (new epoch when newly taken).
--         {0, holder, pttl, epoch}: someone else holds it for pttl more milliseconds.
-- Errors: "ERR lease_acquire: <what>" for a bad argument.
-- Complexity: O(1).
if redis.replicate_commands then redis.replicate_commands() end
local holder, token, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
if holder == nil or holder == '' then
    return redis.error_reply('ERR lease_acquire: holder must not be empty')
end
if token == nil or token == '' then
    return redis.error_reply('ERR lease_acquire: token must not be empty')
end
if ttl == nil or ttl ~= math.floor(ttl) or ttl < 1 then
    return redis.error_reply('ERR lease_acquire: ttl_ms must be an integer >= 1, got ' .. tostring(ARGV[3]))
end
local cur = redis.call('HMGET', KEYS[1], 'holder', 'token', 'epoch')
if cur[2] == token then
    redis.call('HSET', KEYS[1], 'holder', holder)
    redis.call('PEXPIRE', KEYS[1], ttl)
    return {1, holder, ttl, tonumber(cur[3] or '0')}
end
if cur[2] then
    return {0, cur[1] or '', redis.call('PTTL', KEYS[1]), tonumber(cur[3] or '0')}
end
local t = redis.call('TIME')
local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
local epoch = tonumber(redis.call('GET', KEYS[2]) or '0') + 1
if epoch < now_us then epoch = now_us end
local e = string.format('%.0f', epoch)
redis.call('SET', KEYS[2], e)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'holder', holder, 'token', token, 'epoch', e)
redis.call('PEXPIRE', KEYS[1], ttl)
return {1, holder, ttl, epoch}
