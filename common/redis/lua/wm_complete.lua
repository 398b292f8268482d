-- wm_complete: record that window [start, end) of a (connection, report) is completed
-- (every record and its marker acknowledged by Kafka) and advance the watermark over
-- every contiguous completed window, in one step that refuses a stale fencing token.
-- The watermark is the end of the longest run of contiguous completed windows since
-- the start; a window that completes out of order waits in a bounded set until the
-- gap before it closes, then the watermark jumps over all of them.
--
-- KEYS[1] watermark hash: wm (epoch s), origin (first start), fence (last token issued
--         by lock_acquire), rfloor / rto (set by wm_reset: tokens <= rfloor are stale
--         for windows starting before rto), updated_ms (Redis time of the last change).
-- KEYS[2] done: zset of completed windows beyond the watermark, member "start:end",
--         score = start.
-- KEYS[3] fences: hash "start:end" -> latest fencing token issued for the window.
-- KEYS[4] fence index: zset "start:end" scored by end.
-- ARGV[1] start        epoch seconds (integer >= 0).
-- ARGV[2] end          epoch seconds (integer > start).
-- ARGV[3] fence        the caller's fencing token from lock_acquire (integer >= 1).
-- ARGV[4] max_pending  bound on the done set (integer >= 1).
-- Returns {status, wm, pending} with pending = size of the done set and status:
--   "advanced"  the watermark moved (to wm);
--   "pending"   recorded (or already recorded); the watermark waits for a gap before it;
--   "already"   end <= watermark: nothing to do;
--   "stale"     a newer holder got the window's lock (or a resync happened since the
--               token was issued): nothing recorded; this holder must stop;
--   "uninit"    the watermark was never set (wm_init) or was lost: nothing recorded;
--   "full"      the done set holds max_pending windows: nothing recorded; retry later.
-- Errors: "ERR wm_complete: <what>" for a bad argument.
-- Complexity: O((K + 1) log N): N = size of the done set, K = windows the watermark
-- passes (each is removed, with its fencing record, exactly once).
if redis.replicate_commands then redis.replicate_commands() end

local function int_arg(i, name, min)
    local v = tonumber(ARGV[i])
    if v == nil or v ~= math.floor(v) or v < min then
        return nil, name .. ' must be an integer >= ' .. min .. ', got ' .. tostring(ARGV[i])
    end
    return v
end
local function fail(e) return redis.error_reply('ERR wm_complete: ' .. e) end
local function fmt(n) return string.format('%.0f', n) end

local wstart, wend, fence, max_pending, e
wstart, e = int_arg(1, 'start', 0) if e then return fail(e) end
wend, e = int_arg(2, 'end', wstart + 1) if e then return fail(e) end
fence, e = int_arg(3, 'fence', 1) if e then return fail(e) end
max_pending, e = int_arg(4, 'max_pending', 1) if e then return fail(e) end
local member = fmt(wstart) .. ':' .. fmt(wend)

local h = redis.call('HMGET', KEYS[1], 'wm', 'rfloor', 'rto')
if not h[1] then
    return {'uninit', 0, redis.call('ZCARD', KEYS[2])}
end
local wm = tonumber(h[1])
local rfloor = tonumber(h[2] or '0')
local rto = tonumber(h[3] or '0')

local latest = tonumber(redis.call('HGET', KEYS[3], member) or '0')
if fence < latest or (wstart < rto and fence <= rfloor) then
    return {'stale', wm, redis.call('ZCARD', KEYS[2])}
end
if wend <= wm then
    return {'already', wm, redis.call('ZCARD', KEYS[2])}
end

local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

if wstart > wm then
    if not redis.call('ZSCORE', KEYS[2], member) then
        if redis.call('ZCARD', KEYS[2]) >= max_pending then
            return {'full', wm, redis.call('ZCARD', KEYS[2])}
        end
        redis.call('ZADD', KEYS[2], fmt(wstart), member)
        redis.call('HSET', KEYS[1], 'updated_ms', fmt(now_ms))
    end
    return {'pending', wm, redis.call('ZCARD', KEYS[2])}
end

-- contiguous: move to its end, then over every completed window that now touches it
wm = wend
while true do
    local items = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', fmt(wm), 'LIMIT', 0, 256)
    if #items == 0 then break end
    for _, m in ipairs(items) do
        local e2 = tonumber(string.match(m, ':(%d+)$'))
        if e2 > wm then wm = e2 end
    end
    redis.call('ZREM', KEYS[2], unpack(items))
end
redis.call('HSET', KEYS[1], 'wm', fmt(wm), 'updated_ms', fmt(now_ms))

-- fencing records of windows now behind the watermark are not needed any more
while true do
    local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', fmt(wm), 'LIMIT', 0, 256)
    if #old == 0 then break end
    redis.call('HDEL', KEYS[3], unpack(old))
    redis.call('ZREM', KEYS[4], unpack(old))
end
return {'advanced', wm, redis.call('ZCARD', KEYS[2])}
