"""Load: 1,000 clients over three nodes, every message crossing nodes; bounded (< 90 s).

The clients are light: raw websocket clients speaking the wire protocol (a ``UserAgent`` per
client, with its session machines and timers, is too heavy for 1,000 on a two-core machine in
one process with the three nodes). Client ``i`` is on node ``i % 3`` and sends ``MESSAGES``
numbered contact messages to client ``i + 1`` (on the next node) and ``i + 2`` (the one after):
every message crosses Redis. Each receiver checks what it got: nothing lost, nothing for
someone else (misrouted), nothing twice, each sender's messages in the order sent.
"""

from __future__ import annotations

import asyncio
import time

from adaptertools import run, until
from clustertools import client, frame, nodes
from redistools import RedisServer
from websockets.asyncio.client import ClientConnection

from rtcstate import wire

CLIENTS = 1000
MESSAGES = 3
LIMIT = 90.0
#: one source (127.0.0.1) for everyone, no presence fan-out (O(n²) for 1,000 in one group)
HUB = {
    "presence_group": None,
    "max_connections_per_source": None,
    "connect_rate": None,
    "source_rate_limit": None,
}


def test_a_thousand_clients_over_three_nodes_lose_misroute_and_repeat_nothing(
    redis_server: RedisServer,
) -> None:
    async def test() -> None:
        # the three nodes share this process's loop with the clients: a heartbeat may wait
        async with nodes(redis_server.url, ["a", "b", "c"], ttl=10.0, **HUB) as n:
            urls = [n[name].url for name in ("a", "b", "c")]
            started = time.monotonic()
            socks: list[ClientConnection] = []
            for batch in range(0, CLIENTS, 100):
                socks.extend(await asyncio.gather(*(
                    client(urls[i % 3], f"u{i}") for i in range(batch, min(batch + 100, CLIENTS))
                )))  # fmt: skip
            # every node knows every address before anyone sends
            known = 2 * CLIENTS  # (each address is remote on the two other nodes)
            await until(lambda: sum(x.relay.hub.remote_addresses for x in n.values()) == known,
                        60.0)  # fmt: skip
            print(f"\nregistered in {time.monotonic() - started:.1f} s")
            got: list[list[tuple[str | None, str]]] = [[] for _ in range(CLIENTS)]
            expected = 2 * MESSAGES

            async def read(i: int) -> None:
                ws = socks[i]
                while len(got[i]) < expected:
                    env = wire.decode(await ws.recv())
                    msg = env.message
                    assert isinstance(msg, wire.ContactMessage), msg
                    got[i].append((env.sender, msg.content))

            readers = [asyncio.create_task(read(i)) for i in range(CLIENTS)]
            for k in range(MESSAGES):
                for i in range(CLIENTS):
                    ws = socks[i]
                    for step in (1, 2):
                        j = (i + step) % CLIENTS
                        await ws.send(frame(wire.ContactMessage(k, f"{i}>{j}#{k}"), to=f"u{j}/d"))
            async with asyncio.timeout(LIMIT - (time.monotonic() - started)):
                await asyncio.gather(*readers)
            elapsed = time.monotonic() - started
            for j in range(CLIENTS):
                by_sender: dict[str, list[int]] = {}
                for sender, content in got[j]:
                    src, _, rest = content.partition(">")
                    dst, _, seq = rest.partition("#")
                    assert dst == str(j), f"misrouted: {content} reached u{j}"
                    assert sender == f"u{src}/d", f"{content} stamped {sender}"
                    by_sender.setdefault(src, []).append(int(seq))
                senders = {str((j - 1) % CLIENTS), str((j - 2) % CLIENTS)}
                assert set(by_sender) == senders
                for seqs in by_sender.values():  # none lost, none twice, in order
                    assert seqs == list(range(MESSAGES))
            crossed = sum(x.link.published for x in n.values())
            assert crossed >= CLIENTS * expected
            print(f"\n{CLIENTS} clients, {CLIENTS * expected} messages across nodes: "
                  f"{elapsed:.1f} s in all")  # fmt: skip
            await asyncio.gather(*(ws.close() for ws in socks))

    run(test, limit=LIMIT + 30)  # a hang anywhere, even in the teardown, is a failure
