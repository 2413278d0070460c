"""The Lua scripts the serving code runs in Valkey (kept as strings so they ship with the
package). Each runs atomically; every key it touches is passed in KEYS."""

from __future__ import annotations

COMMIT = """\
-- Commit a fully written dataset version and make it current, atomically.
-- KEYS[1] meta hash of the version, KEYS[2] current pointer, KEYS[3] versions zset
-- ARGV[1] version, ARGV[2] published_at (ms), ARGV[3] items written, ARGV[4] sources (JSON),
-- ARGV[5] "1" to allow making an older version current (never used by publish)
local status = redis.call('HGET', KEYS[1], 'status')
if not status then
  return redis.error_reply('NOVERSION meta of version ' .. ARGV[1] .. ' is missing (expired?)')
end
if status ~= 'writing' then
  return redis.error_reply('BADSTATUS version ' .. ARGV[1] .. ' is ' .. status)
end
local v = tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[2]) or '0')
if cur > v and ARGV[5] ~= '1' then
  return redis.error_reply('STALE version ' .. cur .. ' is newer and already current')
end
redis.call('HSET', KEYS[1], 'status', 'complete', 'published_at', ARGV[2], 'items', ARGV[3],
  'sources', ARGV[4])
redis.call('ZADD', KEYS[3], v, ARGV[1])
redis.call('SET', KEYS[2], ARGV[1])
return cur
"""

FEED_PAGE = """\
-- One page of a user's published feed, filtered server-side, in one round trip.
-- KEYS[1] the feed shard hash holding the user, KEYS[2] the user's seen zset, KEYS[3] ready set
-- ARGV[1] field (the user id), ARGV[2] offset (0-based item index), ARGV[3] limit,
-- ARGV[4] seen threshold in ms: a seen entry at or after it hides the video,
-- ARGV[5] how many items to test per SMISMEMBER/ZMSCORE call
-- Returns false when the user has no feed in this version, else
-- {header (4 bytes), next offset, picked items, packed feed if exhausted else ''}:
-- next offset = n when the feed is exhausted; picked items are, per item, its index (u16 LE)
-- followed by its id, score and code bytes as stored.
-- The packed layout is fyplake/serving/codec.py (format 1); ids must be < 2^53.
local blob = redis.call('HGET', KEYS[1], ARGV[1])
if not blob then return false end
local byte, sub, char = string.byte, string.sub, string.char
local flags = byte(blob, 2)
local n = byte(blob, 3) + 256 * byte(blob, 4)
local width = 8
if flags % 2 == 1 then width = 4 end
local scores_at = 5 + n * width
local codes_at = scores_at + 4 * n
local pos = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local threshold = tonumber(ARGV[4])
local window = tonumber(ARGV[5])
local out = {}
local picked = 0
while picked < limit and pos < n do
  local stop = math.min(n, pos + window)
  local ids = {}
  for i = pos, stop - 1 do
    local b = 5 + i * width
    local b1, b2, b3, b4 = byte(blob, b, b + 3)
    local v = b1 + b2 * 256 + b3 * 65536 + b4 * 16777216
    if width == 8 then
      local c1, c2, c3 = byte(blob, b + 4, b + 6)
      v = v + (c1 + c2 * 256 + c3 * 65536) * 4294967296
    end
    ids[#ids + 1] = string.format('%d', v)
  end
  local ready = redis.call('SMISMEMBER', KEYS[3], unpack(ids))
  local seen = redis.call('ZMSCORE', KEYS[2], unpack(ids))
  local j = 1
  while j <= #ids do
    if ready[j] == 1 and not (seen[j] and tonumber(seen[j]) >= threshold) then
      local i = pos + j - 1
      local b = 5 + i * width
      local s = scores_at + 4 * i
      out[#out + 1] = char(i % 256, math.floor(i / 256)) .. sub(blob, b, b + width - 1)
        .. sub(blob, s, s + 3) .. sub(blob, codes_at + i, codes_at + i)
      picked = picked + 1
      if picked == limit then break end
    end
    j = j + 1
  end
  if picked == limit then pos = pos + j else pos = stop end
end
local full = ''
if pos >= n then full = blob end
return {sub(blob, 1, 4), pos, table.concat(out), full}
"""

RECORD_EVENTS = """\
-- Apply accepted events to counters and seen sets, once per event id.
-- KEYS[1] live counters hash; then per event i (1-based): KEYS[2i] its de-dup key,
-- KEYS[2i+1] its user's seen zset.
-- ARGV[1] de-dup TTL s, ARGV[2] seen TTL s, ARGV[3] max seen entries, ARGV[4] now (ms);
-- then per event i: ARGV[3+2i] counter field or '', ARGV[4+2i] seen member (video id) or ''.
-- Returns how many events were applied (the others were already applied earlier).
local applied = 0
local seen_max = tonumber(ARGV[3])
for i = 1, (#KEYS - 1) / 2 do
  local dedupe, seen = KEYS[2 * i], KEYS[2 * i + 1]
  local field, member = ARGV[3 + 2 * i], ARGV[4 + 2 * i]
  if redis.call('SET', dedupe, '1', 'NX', 'EX', ARGV[1]) then
    applied = applied + 1
    if field ~= '' then redis.call('HINCRBY', KEYS[1], field, 1) end
    if member ~= '' then
      redis.call('ZADD', seen, ARGV[4], member)
      redis.call('EXPIRE', seen, ARGV[2])
      if redis.call('ZCARD', seen) > seen_max then
        redis.call('ZREMRANGEBYRANK', seen, 0, -seen_max - 1)
      end
    end
  end
end
return applied
"""

ROTATE_COUNTERS = """\
-- Move the live counters hash aside as one flush batch, atomically.
-- KEYS[1] live hash, KEYS[2] the batch hash to create, KEYS[3] pending batch-id set
-- ARGV[1] batch id. Returns 1 if a batch was created, 0 if there was nothing to flush.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('RENAME', KEYS[1], KEYS[2])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
"""
