"""The baseline of ``relay_vs_raw``: a minimal websockets forwarder (every frame one client
sends goes to every other client, as is). ``python bench/raw_forwarder.py PORT``."""

import asyncio
import sys

from websockets.asyncio.server import ServerConnection, serve

clients: set[ServerConnection] = set()


async def forward(ws: ServerConnection) -> None:
    clients.add(ws)
    try:
        async for frame in ws:
            for other in clients:
                if other is not ws:
                    await other.send(frame)
    finally:
        clients.discard(ws)


async def main(port: int) -> None:
    async with serve(forward, "127.0.0.1", port, compression=None, max_size=1 << 20):
        print("listening", flush=True)
        await asyncio.Future()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
