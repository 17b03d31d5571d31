"""What persisting a cluster's rooms costs the room authority, per record written.

    python tools/room_record_cost.py

For a room of 10 and of 1,000 members with a full history (50 messages of 100 characters) and
its kept answers: the time to build one record and encode it as JSON (what the link writes to
Redis, at most once per room per pipeline), next to the time the authority takes to handle one
message in that room, both the best of several repeats (on a shared machine, noise only adds
time), and the record's size. One line of JSON per room size.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtcstate.identity import Identity
from rtcstate.rooms import RoomAuthority
from rtcstate.rooms_snapshot import room_record
from rtcstate.wire_conversation import ConvJoin, ConvSendMessage

REPEATS = 7
ROUNDS = 100


def measure(members: int) -> dict[str, float | int]:
    auth = RoomAuthority(max_members=members)
    auth.journal = {}
    ids = [Identity(f"u{i}", "t", verified=True) for i in range(members)]
    for i, identity in enumerate(ids):
        auth.receive(identity, f"u{i}/d", ConvJoin("r", f"j{i}"), 0.0)
    for k in range(auth.history_size):
        auth.receive(ids[0], "u0/d", ConvSendMessage("r", f"w{k}", "x" * 100), 0.0)
    message = record = float("inf")
    size = 0
    for rep in range(REPEATS):
        start = time.perf_counter()
        for k in range(ROUNDS):
            auth.receive(ids[0], "u0/d", ConvSendMessage("r", f"m{rep}-{k}", "x" * 100), 0.0)
        message = min(message, (time.perf_counter() - start) / ROUNDS)
        start = time.perf_counter()
        for _ in range(ROUNDS):
            size = len(json.dumps(room_record(auth, "t", "r", 0.0, 0.0)))
        record = min(record, (time.perf_counter() - start) / ROUNDS)
    return {"members": members, "message_us": round(message * 1e6, 1),
            "record_us": round(record * 1e6, 1), "record_bytes": size}  # fmt: skip


def main() -> int:
    for members in (10, 1000):
        print(json.dumps(measure(members)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
