-- lock_acquire: take the lock on one window [start, end) of a (connection, report) with
-- SET NX PX and a random token, and issue a fencing token to the new holder. The
-- fencing token is recorded for the window; wm_complete refuses any lower token for it,
-- so a holder that lost the lock (paused, partitioned, lease expired and retaken) cannot
-- advance the watermark. Fencing tokens are max(last issued + 1, Redis TIME in us): they
-- only grow, and still grow after a Redis restart that lost the counter.
--
-- KEYS[1] the window's lock: string, value = holder's token, with a PX expiry.
-- KEYS[2] watermark hash of the (connection, report): field fence = last token issued;
--         field wm is read to drop records of windows the watermark has passed.
-- KEYS[3] fences: hash, field "start:end" -> latest fencing token issued for that window.
-- KEYS[4] fence index: zset, member "start:end", score = end (for cleanup by end).
-- ARGV[1] token     the caller's random token (non-empty).
-- ARGV[2] ttl_ms    lock expiry (integer >= 1).
-- ARGV[3] start     window start, epoch seconds (integer >= 0).
-- ARGV[4] end       window end, epoch seconds (integer > start).
-- Returns {1, fence, ttl_ms}: acquired; also when the lock already holds this token
--         (a retry), which extends it and returns the same fencing token.
--         {0, 0, pttl}: another holder has it for pttl more milliseconds.
-- Errors: "ERR lock_acquire: <what>" for a bad argument.
-- Complexity: O(log N) for N recorded windows, plus up to 16 stale records removed.
if redis.replicate_commands then redis.replicate_commands() end

local function int_arg(i, name, min)
    local v = tonumber(ARGV[i])
    if v == nil or v ~= math.floor(v) or v < min then
        return nil, name .. ' must be an integer >= ' .. min .. ', got ' .. tostring(ARGV[i])
    end
    return v
end
local function fail(e) return redis.error_reply('ERR lock_acquire: ' .. e) end
local function fmt(n) return string.format('%.0f', n) end

local token = ARGV[1]
if token == nil or token == '' then return fail('token must not be empty') end
local ttl, wstart, wend, e
ttl, e = int_arg(2, 'ttl_ms', 1) if e then return fail(e) end
wstart, e = int_arg(3, 'start', 0) if e then return fail(e) end
wend, e = int_arg(4, 'end', wstart + 1) if e then return fail(e) end
local member = fmt(wstart) .. ':' .. fmt(wend)

local function issue()
    local t = redis.call('TIME')
    local now_us = tonumber(t[1]) * 1000000 + tonumber(t[2])
    local f = tonumber(redis.call('HGET', KEYS[2], 'fence') or '0') + 1
    if f < now_us then f = now_us end
    redis.call('HSET', KEYS[2], 'fence', fmt(f))
    -- drop a few records of windows the watermark has passed (wm_complete drops the rest)
    local wm = redis.call('HGET', KEYS[2], 'wm')
    if wm then
        local old = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', wm, 'LIMIT', 0, 16)
        if #old > 0 then
            redis.call('HDEL', KEYS[3], unpack(old))
            redis.call('ZREM', KEYS[4], unpack(old))
        end
    end
    redis.call('HSET', KEYS[3], member, fmt(f))
    redis.call('ZADD', KEYS[4], fmt(wend), member)
    return f
end

local cur = redis.call('GET', KEYS[1])
if cur == token then
    redis.call('PEXPIRE', KEYS[1], ttl)
    local f = tonumber(redis.call('HGET', KEYS[3], member) or '0')
    if f == 0 then f = issue() end
    return {1, f, ttl}
end
if cur then
    return {0, 0, redis.call('PTTL', KEYS[1])}
end
redis.call('SET', KEYS[1], token, 'PX', ttl)
return {1, issue(), ttl}
