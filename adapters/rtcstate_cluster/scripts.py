"""The Lua scripts that change the shared state, each atomic in Redis; and the key names.

Theory of operation
-------------------
Keys (``rtc:`` prefix): ``rtc:dir:<tenant>`` (hash ``address -> node\\nverified\\ngroups``),
``rtc:tenants`` (set), ``rtc:addrs:<node>`` (set of ``tenant\\naddress`` a node wrote),
``rtc:nodes`` (set of the nodes alive or not yet reaped), ``rtc:alive:<node>`` (a key with an
expiry, the heartbeat), ``rtc:rooms:authority`` (the room authority's lease),
``rtc:rooms:fence`` (its fencing number, one more at each taking), ``rtc:rooms`` (hash
``json [tenant, name] -> json record``: the conversation rooms). Channels: ``rtc:dir``
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
* :data:`FRESH` is the reaping of a node by itself when it starts (what a previous process
  with its id left behind).
* :data:`LEAVE` is a node leaving cleanly (after a drain): its key, its place in ``rtc:nodes``
  and the room authority's lease if it holds it are removed, and it reaps itself, so the
  others neither wait for its heartbeat to expire nor keep an entry of it.
"""

from __future__ import annotations

__all__ = ["BIND", "DIR_CHANNEL", "FREE", "FRESH", "HEARTBEAT", "LEAVE", "ROOMS", "SAVE_ROOMS",
           "addrs_key", "dir_key", "node_channel"]  # fmt: skip

DIR_CHANNEL = "rtc:dir"
TENANTS = "rtc:tenants"
ROOMS = "rtc:rooms"


def dir_key(tenant: str) -> str:
    return f"rtc:dir:{tenant}"


def addrs_key(node: str) -> str:
    return f"rtc:addrs:{node}"


def node_channel(node: str) -> str:
    return f"rtc:to:{node}"


# KEYS: dir hash, node's addrs set, tenants set; ARGV: address, value, member, tenant, event
BIND = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SADD', KEYS[2], ARGV[3])
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('PUBLISH', 'rtc:dir', ARGV[5])
return 1
"""

# KEYS: dir hash, node's addrs set; ARGV: address, node .. "\\n", member, event
FREE = """
redis.call('SREM', KEYS[2], ARGV[3])
local v = redis.call('HGET', KEYS[1], ARGV[1])
if v and string.sub(v, 1, #ARGV[2]) == ARGV[2] then
  redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('PUBLISH', 'rtc:dir', ARGV[4])
  return 1
end
return 0
"""

_REAP = """
local function reap(id)
  local prefix = id .. "\\n"
  local n = 0
  redis.call('PUBLISH', 'rtc:dir', 'L\\n' .. id)
  for _, m in ipairs(redis.call('SMEMBERS', 'rtc:addrs:' .. id)) do
    local sep = string.find(m, "\\n", 1, true)
    if sep then
      local tenant = string.sub(m, 1, sep - 1)
      local address = string.sub(m, sep + 1)
      local key = 'rtc:dir:' .. tenant
      local v = redis.call('HGET', key, address)
      if v and string.sub(v, 1, #prefix) == prefix then
        redis.call('HDEL', key, address)
        redis.call('PUBLISH', 'rtc:dir', 'U\\n' .. id .. '\\n' .. tenant .. '\\n' .. address)
        n = n + 1
      end
    end
  end
  redis.call('DEL', 'rtc:addrs:' .. id)
  return n
end
"""

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
