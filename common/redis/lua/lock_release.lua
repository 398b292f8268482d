-- lock_release: delete a window lock, only for the holder of its token (the fencing
-- record of the window stays until the watermark passes the window).
--
-- KEYS[1] the window's lock (see lock_acquire.lua).
-- ARGV[1] token  the holder's token (non-empty).
-- Returns 1 when released, 0 when the lock was not held with this token.
-- Errors: "ERR lock_release: token must not be empty".
-- Complexity: O(1).
local token = ARGV[1]
if token == nil or token == '' then
    return redis.error_reply('ERR lock_release: token must not be empty')
end
if redis.call('GET', KEYS[1]) == token then
    return redis.call('DEL', KEYS[1])
end
return 0
