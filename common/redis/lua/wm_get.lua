-- wm_get: read the watermark state of a (connection, report) in one consistent step.
--
-- KEYS[1] watermark hash, KEYS[2] done set (see wm_complete.lua).
-- Returns {initialized, wm, origin, pending, fence, updated_ms}: initialized is 0 when
--         wm_init never ran (or the state was lost), and then wm and origin are 0;
--         pending = completed windows waiting beyond the watermark; fence = last fencing
--         token issued; updated_ms = Redis time of the last change (0 when unknown).
-- Complexity: O(1). Writes nothing.
local h = redis.call('HMGET', KEYS[1], 'wm', 'origin', 'fence', 'updated_ms')
local init = 0
if h[1] then init = 1 end
return {init, tonumber(h[1] or '0'), tonumber(h[2] or h[1] or '0'),
        redis.call('ZCARD', KEYS[2]), tonumber(h[3] or '0'), tonumber(h[4] or '0')}
