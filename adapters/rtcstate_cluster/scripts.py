"""The Lua scripts that change the shared state, each atomic in Redis; and the key names.

Theory of operation
-------------------
Keys (``rtc:`` prefix): ``rtc:dir:<tenant>`` (hash ``address -> node\\nverified\\ngroups``),
``rtc:tenants`` (set), ``rtc:addrs:<node>`` (set of ``tenant\\naddress`` a node wrote),
``rtc:nodes`` (set of the nodes alive or not yet reaped), ``rtc:alive:<node>`` (a key with an
expiry, the heartbeat), ``rtc:rooms:authority`` (the room authority's lease),
``rtc:rooms:fence`` (its fencing number, one more at each taking), ``rtc:rooms`` (hash
``json [tenant, name] -> json record``: the conversation rooms). Shared limits:
``rtc:devs:<tenant>\\n<user>`` (hash ``device -> node``: the identity's devices online or
reserved, cluster-wide), ``rtc:conns:<node>`` (hash ``source -> open connections`` on that
node), ``rtc:reg:<tenant>\\n<user>`` and ``rtc:rate:<tenant>\\n<user>`` (token buckets, hash
``t`` tokens, ``at`` Redis time, with an expiry once they would be full). Channels: ``rtc:dir``
(directory events) and ``rtc:to:<node>`` (node frames).

* :data:`BIND` writes an entry and publishes ``B``; :data:`FREE` removes it only if that
  node still holds it (an address that moved to another node stays) and publishes ``U``.
* :data:`HEARTBEAT` refreshes the node's key, puts it back in ``rtc:nodes`` (saying whether it
  had been reaped: the node then publishes its addresses again), reaps every node whose key
  expired — ``L``, then its entries that it still holds are removed with one ``U`` each (``L``
  first: the others free its addresses as a node's death, whose room members keep their
  places for a grace period) — and takes or renews the room authority's lease (a taking adds
  one to the fencing number), returning the holder and the fencing number. Being one script, a
  dead node is reaped exactly once, whichever survivors run it at the same time.
* :data:`SAVE_ROOMS` writes (or deletes) room records only if the caller holds the lease
  *and* the fencing number it took it with: an authority deposed while it stalled cannot
  overwrite what the next one wrote.
* :data:`ADMIT` checks a registration against the limits every node shares (the source's
  connections on every node, the identity's devices online anywhere, its registration bucket)
  and, within them, reserves the device for the node (``rtc:devs``, ``rtc:addrs``); BIND,
  FREE and the reaping keep ``rtc:devs`` as the directory is. :data:`RATES` adds a node's
  message counts to the identities' shared buckets and returns the tokens left.
* :data:`PRUNE` is a node connected to Redis again freeing what it wrote and no longer holds
  (its frees were lost with the connection) before it publishes what it holds again.
* :data:`FRESH` is the reaping of a node by itself when it starts (what a previous process
  with its id left behind).
* :data:`LEAVE` is a node leaving cleanly (after a drain): its key, its place in ``rtc:nodes``
  and the room authority's lease if it holds it are removed, and it reaps itself, so the
  others neither wait for its heartbeat to expire nor keep an entry of it.
"""

from __future__ import annotations

__all__ = ["ADMIT", "BIND", "DIR_CHANNEL", "FREE", "FRESH", "HEARTBEAT", "LEAVE", "PRUNE", "RATES",
           "ROOMS", "SAVE_ROOMS", "addrs_key", "conns_key", "dir_key", "node_channel"]  # fmt: skip

DIR_CHANNEL = "rtc:dir"
TENANTS = "rtc:tenants"
ROOMS = "rtc:rooms"


def dir_key(tenant: str) -> str:
    return f"rtc:dir:{tenant}"


def addrs_key(node: str) -> str:
    return f"rtc:addrs:{node}"


def node_channel(node: str) -> str:
    return f"rtc:to:{node}"


def conns_key(node: str) -> str:
    return f"rtc:conns:{node}"


# the identity's devices (hash device -> node) of the address "user/device" of tenant ``t``
_DEVS = """
local function devs_of(t, address)
  local slash = string.find(address, "/", 1, true)
  if not slash then return nil, nil end
  return 'rtc:devs:' .. t .. "\\n" .. string.sub(address, 1, slash - 1),
         string.sub(address, slash + 1)
end
"""


# KEYS: dir hash, node's addrs set, tenants set; ARGV: address, value, member, tenant, event,
# node
BIND = (
    _DEVS
    + """
local devs, device = devs_of(ARGV[4], ARGV[1])
if devs then redis.call('HSET', devs, device, ARGV[6]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('PUBLISH', 'rtc:dir', ARGV[5])
return 1
"""
)

# KEYS: dir hash, node's addrs set; ARGV: address, node .. "\\n", member, event, tenant, node
FREE = (
    _DEVS
    + """
redis.call('SREM', KEYS[2], ARGV[3])
local devs, device = devs_of(ARGV[5], ARGV[1])
if devs and redis.call('HGET', devs, device) == ARGV[6] then redis.call('HDEL', devs, device) end
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, #ARGV[2]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('PUBLISH', 'rtc:dir', ARGV[4])
  return 1
end
return 0
"""
)

_REAP = (
    _DEVS
    + """
local function free_one(id, m)
  local sep = string.find(m, "\\n", 1, true)
  if not sep then return 0 end
  local prefix = id .. "\\n"
  local tenant = string.sub(m, 1, sep - 1)
  local address = string.sub(m, sep + 1)
  local devs, device = devs_of(tenant, address)
  if devs and redis.call('HGET', devs, device) == id then redis.call('HDEL', devs, device) end
  local key = 'rtc:dir:' .. tenant
  local v = redis.call('HGET', key, address)
  if v and string.sub(v, 1, #prefix) == prefix then
    redis.call('HDEL', key, address)
    redis.call('PUBLISH', 'rtc:dir', 'U\\n' .. id .. '\\n' .. tenant .. '\\n' .. address)
    return 1
  end
  return 0
end
local function reap(id)
  local n = 0
  redis.call('PUBLISH', 'rtc:dir', 'L\\n' .. id)
  for _, m in ipairs(redis.call('SMEMBERS', 'rtc:addrs:' .. id)) do
    n = n + free_one(id, m)
  end
  redis.call('DEL', 'rtc:addrs:' .. id, 'rtc:conns:' .. id)
  return n
end
"""
)

# ARGV: node, heartbeat ttl (ms), room lease (ms); returns {was_reaped, authority, fence,
# reaped...}
HEARTBEAT = (
    _REAP
    + """
local me = ARGV[1]
redis.call('SET', 'rtc:alive:' .. me, '1', 'PX', ARGV[2])
local out = {redis.call('SADD', 'rtc:nodes', me), '', 0}
for _, id in ipairs(redis.call('SMEMBERS', 'rtc:nodes')) do
  if id ~= me and redis.call('EXISTS', 'rtc:alive:' .. id) == 0 then
    redis.call('SREM', 'rtc:nodes', id)
    reap(id)
    table.insert(out, id)
  end
end
local auth = redis.call('GET', 'rtc:rooms:authority')
if not auth then
  redis.call('SET', 'rtc:rooms:authority', me, 'PX', ARGV[3])
  redis.call('INCR', 'rtc:rooms:fence')
  auth = me
elseif auth == me then
  redis.call('PEXPIRE', 'rtc:rooms:authority', ARGV[3])
end
out[2] = auth
out[3] = tonumber(redis.call('GET', 'rtc:rooms:fence') or '0')
return out
"""
)

# ARGV: node; returns how many entries it removed
FRESH = (
    _REAP
    + """
return reap(ARGV[1])
"""
)

# ARGV: node, then the members (tenant\\naddress) it holds; frees the rest of what it wrote and
# forgets its connection counts (a node connected to Redis again, before publishing itself)
PRUNE = (
    _REAP
    + """
local me = ARGV[1]
local keep = {}
for i = 2, #ARGV do keep[ARGV[i]] = true end
local n = 0
for _, m in ipairs(redis.call('SMEMBERS', 'rtc:addrs:' .. me)) do
  if not keep[m] then
    n = n + free_one(me, m)
    redis.call('SREM', 'rtc:addrs:' .. me, m)
  end
end
redis.call('DEL', 'rtc:conns:' .. me)
return n
"""
)

# ARGV: node; returns how many entries it removed
LEAVE = (
    _REAP
    + """
local me = ARGV[1]
redis.call('SREM', 'rtc:nodes', me)
redis.call('DEL', 'rtc:alive:' .. me)
if redis.call('GET', 'rtc:rooms:authority') == me then
  redis.call('DEL', 'rtc:rooms:authority')
end
return reap(me)
"""
)

# a token bucket in Redis (hash t, at), refilled from Redis's own clock
_BUCKET = """
local function now_s()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local function refill(key, rate, burst, now)
  local v = redis.call('HMGET', key, 't', 'at')
  local tokens = tonumber(v[1]) or burst
  local at = tonumber(v[2]) or now
  if now > at then tokens = math.min(burst, tokens + (now - at) * rate) end
  return tokens
end
local function store(key, tokens, rate, burst, now)
  redis.call('HSET', key, 't', tostring(tokens), 'at', tostring(now))
  redis.call('PEXPIRE', key, math.ceil(((burst - tokens) / rate + 1) * 1000))
end
"""

# ARGV: node, tenant, user, device, max devices, registration rate ('' none), burst,
# source ('' none), max connections per source ('' none), member (tenant\\naddress);
# returns {refused ('' admitted, 'source', 'devices', 'register'), count}
ADMIT = (
    _BUCKET
    + """
local node, tenant, user, device = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if ARGV[8] ~= '' and ARGV[9] ~= '' then
  local total = 0
  for _, id in ipairs(redis.call('SMEMBERS', 'rtc:nodes')) do
    total = total + (tonumber(redis.call('HGET', 'rtc:conns:' .. id, ARGV[8])) or 0)
  end
  if total > tonumber(ARGV[9]) then return {'source', total} end
end
local devs = 'rtc:devs:' .. tenant .. "\\n" .. user
local n = redis.call('HLEN', devs)
if redis.call('HEXISTS', devs, device) == 0 and n >= tonumber(ARGV[5]) then
  return {'devices', n}
end
if ARGV[6] ~= '' then
  local rate, burst = tonumber(ARGV[6]), tonumber(ARGV[7])
  local key = 'rtc:reg:' .. tenant .. "\\n" .. user
  local now = now_s()
  local tokens = refill(key, rate, burst, now)
  if tokens < 1 then return {'register', 0} end
  store(key, tokens - 1, rate, burst, now)
end
redis.call('HSET', devs, device, node)
redis.call('SADD', 'rtc:addrs:' .. node, ARGV[10])
return {'', n}
"""
)

# ARGV: rate, burst, then (tenant\\nuser, count) pairs; returns the tokens left of each
RATES = (
    _BUCKET
    + """
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local now = now_s()
local out = {}
for i = 3, #ARGV, 2 do
  local key = 'rtc:rate:' .. ARGV[i]
  local tokens = refill(key, rate, burst, now) - tonumber(ARGV[i + 1])
  store(key, tokens, rate, burst, now)
  table.insert(out, tostring(tokens))
end
return out
"""
)

# ARGV: node, fence, then (field, record) pairs, an empty record deleting its field; returns 1,
# or 0 (nothing written) if the node does not hold the lease under that fencing number
SAVE_ROOMS = """
if redis.call('GET', 'rtc:rooms:authority') ~= ARGV[1]
   or redis.call('GET', 'rtc:rooms:fence') ~= ARGV[2] then
  return 0
end
for i = 3, #ARGV, 2 do
  if ARGV[i + 1] == '' then
    redis.call('HDEL', 'rtc:rooms', ARGV[i])
  else
    redis.call('HSET', 'rtc:rooms', ARGV[i], ARGV[i + 1])
  end
end
return 1
"""
