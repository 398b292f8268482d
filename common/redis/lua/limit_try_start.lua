-- limit_try_start: may one API call start now for one (gateway, sid, appkey)?
-- Checks, in this order and atomically, the cooldown set by a rate-limit answer, the
-- concurrency semaphore and the GCRA rate limiter; only when all three allow it does
-- it charge the limiter and take a semaphore slot. All times come from Redis TIME, so
-- pods with skewed clocks share one schedule.
--
-- KEYS[1] GCRA state: string, theoretical arrival time (TAT) in microseconds.
-- KEYS[2] semaphore: zset, member = slot token, score = slot expiry in microseconds.
-- KEYS[3] cooldown: hash (see limit_finish.lua); only until_us is read here.
-- ARGV[1] interval_us  emission interval, 1e6 / rate rounded up (integer >= 1).
-- ARGV[2] burst        calls that may go back to back after idling (integer >= 1).
-- ARGV[3] slots        concurrent calls allowed (integer >= 1).
-- ARGV[4] lease_ms     how long a slot lives unless released (a killed worker's slot
--                      frees itself after this) (integer >= 1).
-- ARGV[5] token        the slot's token (non-empty); release it with limit_finish.
-- ARGV[6] poll_ms      cap on the wait hint when all slots are busy (integer >= 1).
-- Returns {1, 0, "go", now_us}: the call may start; a slot is held under token.
--         {0, wait_ms, reason, now_us}: wait wait_ms (>= 1) and ask again; reason is
--         "cooldown", "concurrency" or "rate". For "concurrency" the wait is the time
--         to the first slot expiry, capped at poll_ms (a release may come sooner).
--         A token that already holds a live slot gets "go" again without a new charge
--         (a retried request whose reply was lost).
-- Errors: "ERR limit_try_start: <what>" for a bad argument.
-- Complexity: O(log N + E) for N held slots and E expired slots reaped.
-- Counting: over any span of L microseconds at most burst + L / interval_us calls go.
if redis.replicate_commands then redis.replicate_commands() end

local function int_arg(i, name, min)
    local v = tonumber(ARGV[i])
    if v == nil or v ~= math.floor(v) or v < min then
        return nil, name .. ' must be an integer >= ' .. min .. ', got ' .. tostring(ARGV[i])
    end
    return v
end
local function fail(e) return redis.error_reply('ERR limit_try_start: ' .. e) end
local function ceil_ms(us) return math.floor((us + 999) / 1000) end
local function fmt(n) return string.format('%.0f', n) end

local interval, burst, slots, lease_ms, poll_ms, e
interval, e = int_arg(1, 'interval_us', 1) if e then return fail(e) end
burst, e = int_arg(2, 'burst', 1) if e then return fail(e) end
slots, e = int_arg(3, 'slots', 1) if e then return fail(e) end
lease_ms, e = int_arg(4, 'lease_ms', 1) if e then return fail(e) end
poll_ms, e = int_arg(6, 'poll_ms', 1) if e then return fail(e) end
local token = ARGV[5]
if token == nil or token == '' then return fail('token must not be empty') end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

-- 1. cooldown
local until_us = tonumber(redis.call('HGET', KEYS[3], 'until_us') or '0')
if until_us > now then
    return {0, ceil_ms(until_us - now), 'cooldown', now}
end

-- 2. concurrency: reap slots whose holder died, then look for a free one
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', fmt(now))
local mine = redis.call('ZSCORE', KEYS[2], token)
if mine then
    return {1, 0, 'go', now}
end
if redis.call('ZCARD', KEYS[2]) >= slots then
    local first = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
    local wait = ceil_ms(tonumber(first[2]) - now)
    if wait > poll_ms then wait = poll_ms end
    if wait < 1 then wait = 1 end
    return {0, wait, 'concurrency', now}
end

-- 3. GCRA
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local tolerance = (burst - 1) * interval
if tat - now > tolerance then
    local wait = ceil_ms(tat - now - tolerance)
    if wait < 1 then wait = 1 end
    return {0, wait, 'rate', now}
end

-- all three allow it: charge the limiter and take the slot
local new_tat = tat + interval
redis.call('SET', KEYS[1], fmt(new_tat), 'PX', ceil_ms(new_tat - now) + 1000)
redis.call('ZADD', KEYS[2], fmt(now + lease_ms * 1000), token)
if redis.call('PTTL', KEYS[2]) < lease_ms + 1000 then
    redis.call('PEXPIRE', KEYS[2], lease_ms + 1000)
end
return {1, 0, 'go', now}
