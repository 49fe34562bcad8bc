// The Lua scripts of RedisStore: every step that must be atomic runs as one
// script, so no other client sees half of it. Redis keys, for prefix P, a
// key's hash H (src/redis/_keys.ts) and an entry id I:
//
//   P k:H      string: the id of the committed entry for the key
//   P l:H      string: the lease of the key's producer: the id it writes
//   P m:I      hash: key (JSON), h, meta, created, lifetime, accessed,
//              size, state (w writing, c committed, f failed, r released),
//              blocks, crc (CRC-32 of the bytes, once committed), reason
//   P b:I:N    string: block N of the bytes (blockSize bytes each, the last
//              one shorter), appended to
//   P e:I      stream: the entry's events for followers, ids by size: head
//              0-1; growth S-1 (size S after the append); end or fail S-2
//   P ids      counter: every id, and so every lease's fencing token
//   P index    hash: H -> id of every committed key, for records() and
//              keys() without a SCAN of the keyspace (a field whose key
//              expired is dropped when listed)
//
// Scripts name the keys of one entry from the prefix and id they are given,
// so RedisStore targets one Redis (or a primary with replicas), not a cluster.
// Every key has a TTL: writing ones `writingTtl` (renewed by each append and
// lease renewal), committed ones `ttl` (renewed by touch), released ones
// `releasedTtl` (so readers already open finish).

/** Shared Lua helpers, prepended to every script. */
const COMMON = `
local P = ARGV[1]
local function mkey(id) return P .. 'm:' .. id end
local function ekey(id) return P .. 'e:' .. id end
local function bkey(id, n) return P .. 'b:' .. id .. ':' .. n end
local function expire_entry(id, ttl)
  local m = mkey(id)
  redis.call('PEXPIRE', m, ttl)
  redis.call('PEXPIRE', ekey(id), ttl)
  local blocks = tonumber(redis.call('HGET', m, 'blocks') or '0')
  for n = 0, blocks - 1 do redis.call('PEXPIRE', bkey(id, n), ttl) end
end
local function event(id, size, seq, kind, reason)
  redis.call('XADD', ekey(id), 'MAXLEN', '~', '32', size .. '-' .. seq, 'e', kind, 'r', reason or '')
end
local function leased(lkey, id)
  return lkey == '' or redis.call('GET', lkey) == id
end
`;

/** The scripts, each with the keys and arguments it takes. */
export const SCRIPTS = {
  /**
   * claim: ARGV prefix, lkey, kkey, leaseMs, a random suffix for the new
   * id. The committed id ("c", id), the
   * producing id ("f", id), or a new lease ("p", id).
   */
  claim: `
local committed = redis.call('GET', ARGV[3])
if committed then
  local state = redis.call('HGET', mkey(committed), 'state')
  if state == 'c' then return {'c', committed} end
end
local holder = redis.call('GET', ARGV[2])
if holder then return {'f', holder} end
local id = redis.call('INCR', P .. 'ids') .. '.' .. ARGV[5]
redis.call('SET', ARGV[2], id, 'PX', ARGV[4])
return {'p', id}
`,
  /**
   * create: ARGV prefix, id, lkey ('' for none), key, h, meta, created,
   * lifetime, writingTtl.
   */
  create: `
local id = ARGV[2]
if not leased(ARGV[3], id) then return redis.error_reply('LEASE lost before the entry was created') end
local m = mkey(id)
redis.call('HSET', m, 'key', ARGV[4], 'h', ARGV[5], 'meta', ARGV[6], 'created', ARGV[7],
  'lifetime', ARGV[8], 'accessed', ARGV[7], 'size', 0, 'blocks', 0, 'state', 'w')
event(id, 0, 1, 'head')
expire_entry(id, ARGV[9])
return 1
`,
  /**
   * append: ARGV prefix, id, lkey, offset, bytes, blockSize, maxBytes,
   * writingTtl, leaseMs. The new size. An append renews the lease too: a
   * producer that writes is alive, however late its timer runs.
   */
  append: `
local id = ARGV[2]
local m = mkey(id)
if not leased(ARGV[3], id) then return redis.error_reply('LEASE lost: another process may produce this key now') end
local state = redis.call('HGET', m, 'state')
if state ~= 'w' then return redis.error_reply('STATE the entry is no longer written here (' .. tostring(state) .. ')') end
local size = tonumber(redis.call('HGET', m, 'size'))
if size ~= tonumber(ARGV[4]) then return redis.error_reply('OFFSET the entry has ' .. size .. ' bytes, the writer ' .. ARGV[4]) end
local bytes = ARGV[5]
local total = size + #bytes
if total > tonumber(ARGV[7]) then return redis.error_reply('TOOLARGE ' .. total .. ' > ' .. ARGV[7]) end
local bs = tonumber(ARGV[6])
local at = 1
while at <= #bytes do
  local n = math.floor(size / bs)
  local room = bs - size % bs
  local part = string.sub(bytes, at, at + room - 1)
  redis.call('APPEND', bkey(id, n), part)
  redis.call('PEXPIRE', bkey(id, n), ARGV[8])
  at = at + #part
  size = size + #part
end
redis.call('HSET', m, 'size', size, 'blocks', math.floor((size + bs - 1) / bs))
if ARGV[3] ~= '' then redis.call('PEXPIRE', ARGV[3], ARGV[9]) end
redis.call('PEXPIRE', m, ARGV[8])
redis.call('PEXPIRE', ekey(id), ARGV[8])
event(id, size, 1, 'grow')
return size
`,
  /**
   * commit: ARGV prefix, id, lkey, kkey, size, crc, ttl, releasedTtl. The id
   * it replaced, or ''.
   */
  commit: `
local id = ARGV[2]
local m = mkey(id)
if not leased(ARGV[3], id) then return redis.error_reply('LEASE lost: another process may produce this key now') end
local state = redis.call('HGET', m, 'state')
if state ~= 'w' then return redis.error_reply('STATE the entry is no longer written here (' .. tostring(state) .. ')') end
local size = redis.call('HGET', m, 'size')
if size ~= ARGV[5] then return redis.error_reply('OFFSET the entry has ' .. size .. ' bytes, the writer ' .. ARGV[5]) end
local previous = redis.call('GET', ARGV[4])
if previous and previous ~= id then
  redis.call('HSET', mkey(previous), 'state', 'r')
  expire_entry(previous, ARGV[8])
end
redis.call('SET', ARGV[4], id, 'PX', ARGV[7])
redis.call('HSET', P .. 'index', redis.call('HGET', m, 'h'), id)
redis.call('PEXPIRE', P .. 'index', ARGV[7])
redis.call('HSET', m, 'state', 'c', 'crc', ARGV[6])
event(id, size, 2, 'end')
expire_entry(id, ARGV[7])
if ARGV[3] ~= '' then redis.call('DEL', ARGV[3]) end
return previous or ''
`,
  /**
   * record: ARGV prefix, id. The committed entry's hash fields, or nil.
   */
  record: `
local m = mkey(ARGV[2])
if redis.call('HGET', m, 'state') ~= 'c' then return nil end
return redis.call('HGETALL', m)
`,
  /** lookup: ARGV prefix, kkey. The id and hash fields, or nil. */
  lookup: `
local id = redis.call('GET', ARGV[2])
if not id then return nil end
local m = mkey(id)
if redis.call('HGET', m, 'state') ~= 'c' then return nil end
return {id, redis.call('HGETALL', m)}
`,
  /**
   * read: ARGV prefix, id, offset, length, blockSize. Up to `length` bytes
   * from `offset`, fewer only where the bytes end.
   */
  read: `
local id, offset, length, bs = ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local parts = {}
local at, stop = offset, offset + length
while at < stop do
  local n = math.floor(at / bs)
  local within = at - n * bs
  local count = math.min(bs - within, stop - at)
  local part = redis.call('GETRANGE', bkey(id, n), within, within + count - 1)
  if #part == 0 then break end
  parts[#parts + 1] = part
  at = at + #part
  if #part < count then break end
end
return table.concat(parts)
`,
  /** opened: ARGV prefix, id. Whether the entry can be opened: 1 or 0. */
  opened: `
local state = redis.call('HGET', mkey(ARGV[2]), 'state')
if state == 'w' or state == 'c' or state == 'f' then return 1 end
return 0
`,
  /** remove: ARGV prefix, kkey, id, h. */
  remove: `
if redis.call('GET', ARGV[2]) == ARGV[3] then redis.call('DEL', ARGV[2]) end
if redis.call('HGET', P .. 'index', ARGV[4]) == ARGV[3] then redis.call('HDEL', P .. 'index', ARGV[4]) end
return 1
`,
  /**
   * listed: ARGV prefix, then H and id pairs from the index. The hash
   * fields of each still committed, as {id, fields}; the others are dropped
   * from the index.
   */
  listed: `
local out = {}
for i = 2, #ARGV - 1, 2 do
  local h, id = ARGV[i], ARGV[i + 1]
  local m = mkey(id)
  if redis.call('GET', P .. 'k:' .. h) == id and redis.call('HGET', m, 'state') == 'c' then
    out[#out + 1] = {id, redis.call('HGETALL', m)}
  elseif redis.call('HGET', P .. 'index', h) == id then
    redis.call('HDEL', P .. 'index', h)
  end
end
return out
`,
  /**
   * release: ARGV prefix, id, owned ('1' if this store writes it), lkey,
   * releasedTtl, reason. An entry another process writes is left alone.
   */
  release: `
local id = ARGV[2]
local m = mkey(id)
local state = redis.call('HGET', m, 'state')
if not state or state == 'r' then return 0 end
if state == 'w' then
  if ARGV[3] ~= '1' then return 0 end
  redis.call('HSET', m, 'reason', ARGV[6])
  event(id, redis.call('HGET', m, 'size'), 2, 'fail', ARGV[6])
  if ARGV[4] ~= '' and redis.call('GET', ARGV[4]) == id then redis.call('DEL', ARGV[4]) end
end
redis.call('HSET', m, 'state', 'r')
expire_entry(id, ARGV[5])
return 1
`,
  /**
   * fail: ARGV prefix, id, lkey, reason. Fails an entry being written, by
   * its writer.
   */
  fail: `
local id = ARGV[2]
local m = mkey(id)
if redis.call('HGET', m, 'state') ~= 'w' then return 0 end
redis.call('HSET', m, 'state', 'f', 'reason', ARGV[4])
event(id, redis.call('HGET', m, 'size'), 2, 'fail', ARGV[4])
if ARGV[3] ~= '' and redis.call('GET', ARGV[3]) == id then redis.call('DEL', ARGV[3]) end
return 1
`,
  /** touch: ARGV prefix, id, time, ttl. */
  touch: `
local m = mkey(ARGV[2])
if redis.call('HGET', m, 'state') ~= 'c' then return 0 end
local kkey = P .. 'k:' .. redis.call('HGET', m, 'h')
if redis.call('GET', kkey) ~= ARGV[2] then return 0 end
local accessed = tonumber(redis.call('HGET', m, 'accessed'))
if tonumber(ARGV[3]) > accessed then redis.call('HSET', m, 'accessed', ARGV[3]) end
redis.call('PEXPIRE', kkey, ARGV[4])
redis.call('PEXPIRE', P .. 'index', ARGV[4])
expire_entry(ARGV[2], ARGV[4])
return 1
`,
  /** renew: ARGV prefix, id, lkey, leaseMs, writingTtl. 1 if still held. */
  renew: `
if redis.call('GET', ARGV[3]) ~= ARGV[2] then return 0 end
redis.call('PEXPIRE', ARGV[3], ARGV[4])
if redis.call('EXISTS', mkey(ARGV[2])) == 1 then expire_entry(ARGV[2], ARGV[5]) end
return 1
`,
  /**
   * status: ARGV prefix, id, lkey. For a follower whose wait ran out:
   * {state, size, lease pttl (ms, -2 if gone), reason}. An entry still
   * written whose lease is gone is failed here, once, for every follower.
   */
  status: `
local id = ARGV[2]
local m = mkey(id)
local state = redis.call('HGET', m, 'state')
local holder = redis.call('GET', ARGV[3])
local pttl = -2
if holder == id then pttl = redis.call('PTTL', ARGV[3]) end
if state == 'w' and pttl == -2 then
  local reason = 'the producer of this entry lost its lease (it died, hung or was cut off) before completing it'
  redis.call('HSET', m, 'state', 'f', 'reason', reason, 'lost', '1')
  event(id, redis.call('HGET', m, 'size'), 2, 'fail', reason)
  state = 'f'
end
return {state or '', redis.call('HGET', m, 'size') or '0', pttl,
  redis.call('HGET', m, 'reason') or '', redis.call('HGET', m, 'lost') or ''}
`,
} as const;

/** A script's name. */
export type ScriptName = keyof typeof SCRIPTS;

/** The full source of a script, with the shared helpers. */
export function scriptSource(name: ScriptName): string {
  return COMMON + SCRIPTS[name];
}
