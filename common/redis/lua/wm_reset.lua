-- wm_reset: re-sync the range [from, to) of a (connection, report). The watermark moves
-- back to from when it is past it (never forward); what was complete beyond to stays
-- complete (a synthetic completed window [to, old watermark) is recorded), so once the
-- re-planned windows of [from, to) complete, the watermark returns to where it was.
-- Completed windows recorded inside [from, to) are forgotten (their parts outside are
-- kept), and every fencing token issued so far becomes stale for windows that start
-- before to, so a holder still running from before the reset cannot complete them.
-- When the watermark was never set, it is set to from.
--
-- KEYS[1] watermark hash, KEYS[2] done set (see wm_complete.lua).
-- ARGV[1] from  epoch seconds (integer >= 0).
-- ARGV[2] to    epoch seconds (integer > from).
-- Returns {wm, pending}: the watermark and the size of the done set after the reset.
-- Errors: "ERR wm_reset: <what>" for a bad argument.
-- Complexity: O(M log N) for M recorded windows that start before to.
if redis.replicate_commands then redis.replicate_commands() end

local function int_arg(i, name, min)
    local v = tonumber(ARGV[i])
    if v == nil or v ~= math.floor(v) or v < min then
        return nil, name .. ' must be an integer >= ' .. min .. ', got ' .. tostring(ARGV[i])
    end
    return v
end
local function fail(e) return redis.error_reply('ERR wm_reset: ' .. e) end
local function fmt(n) return string.format('%.0f', n) end

local from, to, e
from, e = int_arg(1, 'from', 0) if e then return fail(e) end
to, e = int_arg(2, 'to', from + 1) if e then return fail(e) end

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local h = redis.call('HMGET', KEYS[1], 'wm', 'origin', 'fence', 'rto')
local fence = tonumber(h[3] or '0')
local rto = tonumber(h[4] or '0')
if to > rto then rto = to end

if not h[1] then
    redis.call('HSET', KEYS[1], 'wm', fmt(from), 'origin', fmt(from), 'rfloor', fmt(fence),
               'rto', fmt(rto), 'updated_ms', fmt(now_ms))
    return {from, redis.call('ZCARD', KEYS[2])}
end
local wm = tonumber(h[1])
local origin = tonumber(h[2] or h[1])

-- completed windows that overlap [from, to): keep only their parts outside it
local items = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', '(' .. fmt(to))
for _, m in ipairs(items) do
    local s2, e2 = string.match(m, '^(%d+):(%d+)$')
    s2 = tonumber(s2)
    e2 = tonumber(e2)
    if e2 > from then
        redis.call('ZREM', KEYS[2], m)
        if s2 < from then redis.call('ZADD', KEYS[2], fmt(s2), fmt(s2) .. ':' .. fmt(from)) end
        if e2 > to then redis.call('ZADD', KEYS[2], fmt(to), fmt(to) .. ':' .. fmt(e2)) end
    end
end
if wm > to then
    redis.call('ZADD', KEYS[2], fmt(to), fmt(to) .. ':' .. fmt(wm))
end
if from < wm then wm = from end
if from < origin then origin = from end
redis.call('HSET', KEYS[1], 'wm', fmt(wm), 'origin', fmt(origin), 'rfloor', fmt(fence),
           'rto', fmt(rto), 'updated_ms', fmt(now_ms))
return {wm, redis.call('ZCARD', KEYS[2])}
