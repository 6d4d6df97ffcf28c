/**
 * Lua scripts: each runs atomically in Redis, so a lease, a flush or a reconciliation is all or nothing.
 * Ledger keys are hashes `{spent, reserved, exp}`; `reserved` counts every lease handed to a process (held or
 * not yet used there), so `spent + reserved <= limit` holds across the fleet whatever the processes do.
 */

/**
 * LEASE: KEYS = ledger keys…, grant record. ARGV = count, then per key: need, chunk, limit (-1 = none),
 * expiresAtMs (-1 = never). Amounts are integers below 2^53 (formatted with %.0f: Lua numbers are doubles,
 * and Redis wants integer strings). Refuses as a whole if one key cannot give `need` (the core's `exceedsLimit`
 * rule); else grants each key `max(need, chunk)` capped by what is left, and records the grants under the
 * grant key so a lease whose reply was lost can be given back (reconciliation).
 * Returns {1, grant, spent, reserved, …} or {0, index (1-based), used}.
 */
export const LEASE = `
local n = tonumber(ARGV[1])
local used = {}
local spent = {}
local reserved = {}
for i = 1, n do
  local base = 2 + (i - 1) * 4
  local need = tonumber(ARGV[base])
  local limit = tonumber(ARGV[base + 2])
  local s = tonumber(redis.call('HGET', KEYS[i], 'spent') or '0')
  local r = tonumber(redis.call('HGET', KEYS[i], 'reserved') or '0')
  spent[i] = s
  reserved[i] = r
  used[i] = s + r
  if limit >= 0 and (used[i] + need > limit or (need == 0 and used[i] >= limit)) then
    return {0, i, used[i]}
  end
end
local out = {1}
local record = {}
for i = 1, n do
  local base = 2 + (i - 1) * 4
  local need = tonumber(ARGV[base])
  local chunk = tonumber(ARGV[base + 1])
  local limit = tonumber(ARGV[base + 2])
  local exp = tonumber(ARGV[base + 3])
  local grant = math.max(need, chunk)
  if limit >= 0 then grant = math.min(grant, limit - used[i]) end
  redis.call('HINCRBY', KEYS[i], 'reserved', string.format('%.0f', grant))
  local old = tonumber(redis.call('HGET', KEYS[i], 'exp') or '0')
  if exp < 0 then
    redis.call('HSET', KEYS[i], 'exp', -1)
    redis.call('PERSIST', KEYS[i])
  elseif old >= 0 and exp > old then
    redis.call('HSET', KEYS[i], 'exp', exp)
    redis.call('PEXPIREAT', KEYS[i], exp)
  end
  out[#out + 1] = grant
  out[#out + 1] = spent[i]
  out[#out + 1] = reserved[i] + grant
  record[#record + 1] = KEYS[i]
  record[#record + 1] = grant
end
redis.call('SET', KEYS[n + 1], cjson.encode(record), 'PX', 86400000)
return out
`;

/**
 * FLUSH: KEYS = batch marker, ledger keys…; ARGV = count, then per key: spent delta, reserved delta
 * (negative: a release), expiresAtMs (-1 = never). Applied once per batch id (a retried batch whose first
 * reply was lost is not counted twice). Returns {applied (0/1), spent, reserved, …}.
 */
export const FLUSH = `
local n = tonumber(ARGV[1])
local applied = 0
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', 86400000) then applied = 1 end
local out = {applied}
for i = 1, n do
  local key = KEYS[i + 1]
  local base = 2 + (i - 1) * 3
  if applied == 1 then
    redis.call('HINCRBY', key, 'spent', ARGV[base])
    local r = redis.call('HINCRBY', key, 'reserved', ARGV[base + 1])
    if r < 0 then redis.call('HSET', key, 'reserved', 0) end
    local exp = tonumber(ARGV[base + 2])
    local old = tonumber(redis.call('HGET', key, 'exp') or '0')
    if exp < 0 then
      redis.call('HSET', key, 'exp', -1)
      redis.call('PERSIST', key)
    elseif old >= 0 and exp > old then
      redis.call('HSET', key, 'exp', exp)
      redis.call('PEXPIREAT', key, exp)
    end
  end
  out[#out + 1] = tonumber(redis.call('HGET', key, 'spent') or '0')
  out[#out + 1] = tonumber(redis.call('HGET', key, 'reserved') or '0')
end
return out
`;

/**
 * RECONCILE: KEYS = grant record. A lease whose reply never reached its process is given back: each grant
 * leaves `reserved`. The record goes, so running it twice gives back once. Returns how many keys it fixed.
 */
export const RECONCILE = `
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
local record = cjson.decode(raw)
local fixed = 0
for i = 1, #record, 2 do
  local r = redis.call('HINCRBY', record[i], 'reserved', string.format('%.0f', -tonumber(record[i + 1])))
  if r < 0 then redis.call('HSET', record[i], 'reserved', 0) end
  fixed = fixed + 1
end
redis.call('DEL', KEYS[1])
return fixed
`;
