-- wm_init: set the watermark of a (connection, report) to the start of its first sync,
-- once. When it is already set, nothing changes (a second scheduler pass, or a replica,
-- may call this freely); wm_reset is the way to move it back.
--
-- KEYS[1] watermark hash (see wm_complete.lua).
-- ARGV[1] start  epoch seconds (integer >= 0).
-- Returns {created, wm, origin}: created is 1 when this call set it.
-- Errors: "ERR wm_init: <what>" for a bad argument.
-- Complexity: O(1).
if redis.replicate_commands then redis.replicate_commands() end
local start = tonumber(ARGV[1])
if start == nil or start ~= math.floor(start) or start < 0 then
    return redis.error_reply('ERR wm_init: start must be an integer >= 0, got ' .. tostring(ARGV[1]))
end
local h = redis.call('HMGET', KEYS[1], 'wm', 'origin')
if h[1] then
    return {0, tonumber(h[1]), tonumber(h[2] or h[1])}
end
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local s = string.format('%.0f', start)
redis.call('HSET', KEYS[1], 'wm', s, 'origin', s, 'updated_ms', string.format('%.0f', now_ms))
return {1, start, start}
