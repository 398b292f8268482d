-- limit_finish: an API call of one (gateway, sid, appkey) ended; release its slot and
-- feed its outcome to the cooldown. A rate-limit answer starts or lengthens the
-- cooldown exponentially (base, 2 base, 4 base, ... capped); a streak of successes
-- resets the level. Answers to calls that started before the current cooldown was set
-- (the other calls of the burst that caused it) neither escalate nor count as a streak.
--
-- KEYS[1] semaphore: zset of slots (see limit_try_start.lua).
-- KEYS[2] cooldown: hash until_us (end of cooldown), level (1 = base), streak (successes
--         since), set_us (when the cooldown was last set); all microseconds from TIME.
-- ARGV[1] token        the slot's token from limit_try_start (may name no slot).
-- ARGV[2] started_us   now_us that limit_try_start returned for this call (integer >= 0).
-- ARGV[3] outcome      "ok", "limited" (the API answered with a rate or concurrency
--                      limit) or "other" (any other failure: only releases the slot).
-- ARGV[4] base_ms      first cooldown (integer >= 1).
-- ARGV[5] cap_ms       longest cooldown (integer >= base_ms).
-- ARGV[6] reset_after  successes in a row that reset the level to 0 (integer >= 1).
-- Returns {released, cooldown_ms, level, streak}: released is 1 when the token held a
--         slot; cooldown_ms is the cooldown left now (0 when none).
-- Errors: "ERR limit_finish: <what>" for a bad argument.
-- Complexity: O(log N) for N held slots.
-- The cooldown hash expires 2 * cap_ms after the cooldown ends, so a quiet key forgets
-- its level; while the level is 0 a success writes nothing.
if redis.replicate_commands then redis.replicate_commands() end

local function int_arg(i, name, min)
    local v = tonumber(ARGV[i])
    if v == nil or v ~= math.floor(v) or v < min then
        return nil, name .. ' must be an integer >= ' .. min .. ', got ' .. tostring(ARGV[i])
    end
    return v
end
local function fail(e) return redis.error_reply('ERR limit_finish: ' .. e) end
local function ceil_ms(us) return math.floor((us + 999) / 1000) end
local function fmt(n) return string.format('%.0f', n) end

local started, base_ms, cap_ms, reset_after, e
started, e = int_arg(2, 'started_us', 0) if e then return fail(e) end
base_ms, e = int_arg(4, 'base_ms', 1) if e then return fail(e) end
cap_ms, e = int_arg(5, 'cap_ms', base_ms) if e then return fail(e) end
reset_after, e = int_arg(6, 'reset_after', 1) if e then return fail(e) end
local outcome = ARGV[3]
if outcome ~= 'ok' and outcome ~= 'limited' and outcome ~= 'other' then
    return fail('outcome must be ok, limited or other, got ' .. tostring(outcome))
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])

local released = redis.call('ZREM', KEYS[1], ARGV[1])

local cd = redis.call('HMGET', KEYS[2], 'until_us', 'level', 'streak', 'set_us')
local until_us = tonumber(cd[1] or '0')
local level = tonumber(cd[2] or '0')
local streak = tonumber(cd[3] or '0')
local set_us = tonumber(cd[4] or '0')
local changed = false

if outcome == 'limited' then
    if started >= set_us then
        -- base * 2^(level-1), stopping the level where the cap is reached
        local dur = base_ms
        level = level + 1
        for i = 2, level do
            dur = dur * 2
            if dur >= cap_ms then
                dur = cap_ms
                level = i
                break
            end
        end
        if dur > cap_ms then dur = cap_ms end
        local new_until = now + dur * 1000
        if new_until > until_us then until_us = new_until end
        set_us = now
        streak = 0
        changed = true
    end
elseif outcome == 'ok' and level > 0 and started >= set_us then
    streak = streak + 1
    if streak >= reset_after then
        level = 0
        streak = 0
    end
    changed = true
end

if changed then
    redis.call('HSET', KEYS[2], 'until_us', fmt(until_us), 'level', level,
               'streak', streak, 'set_us', fmt(set_us))
    local left_ms = 0
    if until_us > now then left_ms = ceil_ms(until_us - now) end
    redis.call('PEXPIRE', KEYS[2], left_ms + 2 * cap_ms)
end

local cooldown_ms = 0
if until_us > now then cooldown_ms = ceil_ms(until_us - now) end
return {released, cooldown_ms, level, streak}
