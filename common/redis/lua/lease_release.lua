-- lease_release: give a named lease up, only for the holder of its token, so another
-- replica can take it at once instead of waiting for the expiry (clean shutdown).
--
-- KEYS[1] the lease (see lease_acquire.lua).
-- ARGV[1] token  the holder's token (non-empty).
-- Returns 1 when released, 0 when the lease was not held with this token.
-- Errors: "ERR lease_release: token must not be empty".
-- Complexity: O(1).
local token = ARGV[1]
if token == nil or token == '' then
    return redis.error_reply('ERR lease_release: token must not be empty')
end
if redis.call('HGET', KEYS[1], 'token') == token then
    return redis.call('DEL', KEYS[1])
end
return 0
