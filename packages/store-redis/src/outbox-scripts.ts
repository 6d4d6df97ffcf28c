/**
 * Lua scripts of the alert outbox (see outbox-store.ts), each atomic in Redis. Keys under `<prefix>alerts:`:
 * `outbox` (hash id → entry JSON), `owner` (hash id → owning process), `claim:<id>` (the process making the
 * current attempt, PX lease), `sent:<group>` ("<at> <signature>" of the group's last accepted notification),
 * `state:<owner>` (hash key → JSON), `owners` (set), `live:<owner>` (PX lease, renewed while the process runs),
 * `dead` (list, newest first). Keys a script builds from ARGV share the prefix: one Redis, not a Cluster.
 */

/**
 * PUT: KEYS = outbox, owner, claim. ARGV = id, me, entry JSON, retentionMs. Writes the entry unless another
 * process has taken it over; releases this process's claim (the attempt is over). Returns 1 or 0.
 */
export const OUTBOX_PUT = `
local owner = redis.call('HGET', KEYS[2], ARGV[1])
if owner and owner ~= ARGV[2] then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
if redis.call('GET', KEYS[3]) == ARGV[2] then redis.call('DEL', KEYS[3]) end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])
return 1
`;

/**
 * CLAIM: KEYS = outbox, owner, claim, sent (the group's). ARGV = id, me, leaseMs, now, attempts, signature
 * ('' = no dedup), windowMs. A first attempt whose signature equals the group's last accepted one within
 * `windowMs` (on the managers' clock) is a duplicate: removed. Otherwise the group's record is set and the
 * claim taken for `leaseMs`. Returns {'ok'} | {'duplicate'} | {'gone'} | {'held', pttl}.
 */
export const OUTBOX_CLAIM = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {'gone'} end
local owner = redis.call('HGET', KEYS[2], ARGV[1])
if owner and owner ~= ARGV[2] then return {'gone'} end
local holder = redis.call('GET', KEYS[3])
if holder and holder ~= ARGV[2] then return {'held', redis.call('PTTL', KEYS[3])} end
if ARGV[6] ~= '' and tonumber(ARGV[5]) == 0 then
  local now = tonumber(ARGV[4])
  local window = tonumber(ARGV[7])
  local last = redis.call('GET', KEYS[4])
  if last then
    local sep = string.find(last, ' ', 1, true)
    local at = tonumber(string.sub(last, 1, sep - 1))
    if string.sub(last, sep + 1) == ARGV[6] and now - at < window and now >= at then
      redis.call('HDEL', KEYS[1], ARGV[1])
      redis.call('HDEL', KEYS[2], ARGV[1])
      return {'duplicate'}
    end
  end
  redis.call('SET', KEYS[4], string.format('%.0f', now) .. ' ' .. ARGV[6], 'PX', math.max(window, 1000))
end
redis.call('SET', KEYS[3], ARGV[2], 'PX', ARGV[3])
return {'ok'}
`;

/** REMOVE: KEYS = outbox, owner, claim. ARGV = id. */
export const OUTBOX_REMOVE = `
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
return 1
`;

/**
 * ADOPT: KEYS = owners, outbox, owner, my state. ARGV = prefix (`<keyPrefix>alerts:`), me, retentionMs, mode
 * ('all' | 'adopted'). Every process whose `live:` lease is gone has departed: its entries become mine, its
 * state values join mine (a value I wrote myself wins) and it leaves the owners set. Returns {entries, state}:
 * with 'all' every entry and state value of mine; with 'adopted' only what this call took over.
 */
export const OUTBOX_ADOPT = `
local me = ARGV[2]
local departed = {}
local function isDeparted(o)
  if o == me then return false end
  if departed[o] == nil then departed[o] = redis.call('EXISTS', ARGV[1] .. 'live:' .. o) == 0 end
  return departed[o]
end
local entries = {}
local owned = redis.call('HGETALL', KEYS[3])
for i = 1, #owned, 2 do
  local id, o = owned[i], owned[i + 1]
  local adopted = isDeparted(o)
  if adopted then redis.call('HSET', KEYS[3], id, me) end
  if adopted or (o == me and ARGV[4] == 'all') then
    local entry = redis.call('HGET', KEYS[2], id)
    if entry then table.insert(entries, entry) else redis.call('HDEL', KEYS[3], id) end
  end
end
local state = {}
for _, o in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  if isDeparted(o) then
    local key = ARGV[1] .. 'state:' .. o
    local values = redis.call('HGETALL', key)
    for i = 1, #values, 2 do
      if redis.call('HSETNX', KEYS[4], values[i], values[i + 1]) == 1 and ARGV[4] == 'adopted' then
        table.insert(state, values[i])
        table.insert(state, values[i + 1])
      end
    end
    redis.call('DEL', key)
    redis.call('SREM', KEYS[1], o)
  end
end
if ARGV[4] == 'all' then state = redis.call('HGETALL', KEYS[4]) end
if redis.call('EXISTS', KEYS[4]) == 1 then redis.call('PEXPIRE', KEYS[4], ARGV[3]) end
return {entries, state}
`;
