"""rtcstate benchmarks: one JSON object per line, each ratio against a baseline of the same run.

    python bench/run.py --quick     # the CI-sized set (well under 2 minutes)
    python bench/run.py             # the full set (more repetitions)

Each line is ``{"name", "value", "unit", "baseline", "ratio", "goal"}``: ``value`` is rtcstate's
figure, ``baseline`` the reference measured in the same process just before or after, and
``ratio`` = value / baseline (for costs: lower is better; ``goal`` says which way and how far).
Timings are the best of several repeats of a tight loop (``time.perf_counter``), which filters
out scheduler noise on a shared 2-core machine.
"""

from __future__ import annotations

import argparse
import enum
import gc
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rtcstate import wire
from rtcstate.effects import AddIceCandidate, Effect
from rtcstate.machine import machine, spec_of
from rtcstate.media import MediaEvent
from rtcstate.session import Session, SessionConfig, SessionState


def best_of(fn: Callable[[int], None], loops: int, repeats: int) -> float:
    """Seconds per iteration: the best of ``repeats`` runs of ``fn(loops)``."""
    best = float("inf")
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        fn(loops)
        best = min(best, (time.perf_counter() - start) / loops)
    return best


def line(name: str, value: float, unit: str, baseline: float, goal: str) -> dict[str, Any]:
    ratio = value / baseline if baseline else float("inf")
    return {
        "name": name,
        "value": round(value, 4),
        "unit": unit,
        "baseline": round(baseline, 4),
        "ratio": round(ratio, 3),
        "goal": goal,
    }


# --- receive_per_message ----------------------------------------------------------------------


class _Leg(enum.Enum):
    CONNECTING = "CONNECTING"
    ENDED = "ENDED"


@machine(_Leg, [
    {"trigger": "candidate", "source": "CONNECTING", "dest": "CONNECTING", "after": "_add"},
    {"trigger": "bye", "source": "CONNECTING", "dest": "ENDED"},
], initial=_Leg.CONNECTING, final=[_Leg.ENDED])  # fmt: skip
@attrs.define(slots=True, eq=False)
class BenchLeg:
    """A one-state stand-in for a call leg: a candidate is a transition with one effect.

    (The calls issue replaces it with the real ``Call`` machine in this benchmark.)
    """

    call_id: str
    peer: str
    state: _Leg = _Leg.CONNECTING

    @property
    def ended(self) -> bool:
        return self.state is _Leg.ENDED

    def receive(self, env: wire.Envelope, now: float) -> list[Effect]:
        fx: list[Effect] = []
        msg = env.message
        if type(msg) is wire.Candidate and env.sender == self.peer:
            spec_of(self).fire(self, "candidate", fx, now, msg)
        return fx

    def _add(self, fx: list[Effect], now: float, msg: wire.Candidate) -> None:
        fx.append(AddIceCandidate(msg.call_id, msg.candidate, msg.sdp_mid, msg.sdp_mline_index))

    def media_event(self, event: MediaEvent, now: float) -> list[Effect]:
        return []

    def timer_fired(self, name: str, now: float) -> list[Effect]:
        return []

    def on_disconnected(self, now: float) -> list[Effect]:
        return []

    def on_reconnected(self, now: float) -> list[Effect]:
        return []


CANDIDATE = wire.encode(
    wire.Candidate(
        call_id="bob/phone-call-17",
        candidate="candidate:842163049 1 udp 1677729535 127.0.0.1 50123 typ srflx raddr "
        "0.0.0.0 rport 0 generation 0 ufrag sK2t network-cost 999",
        sdp_mid="0",
        sdp_mline_index=0,
    ),
    to="alice/laptop",
    sender="bob/phone",
)


def connected_session(calls: int) -> Session:
    s = Session(SessionConfig("alice", device="laptop", keepalive_interval=None))
    s.register(0.0)
    s.connection_made(0.0)
    s.receive(wire.encode(wire.Registered(user="alice", device="laptop", session_id="S")), 0.0)
    assert s.state is SessionState.CONNECTED
    for n in range(calls - 1):
        s.attach("call_id", f"bob/phone-call-{n + 100}", BenchLeg(f"x{n}", "bob/phone"))
    s.attach("call_id", "bob/phone-call-17", BenchLeg("bob/phone-call-17", "bob/phone"))
    return s


def bench_receive(quick: bool) -> dict[str, Any]:
    loops, repeats = (20_000, 5) if quick else (100_000, 9)
    session = connected_session(100)
    data = CANDIDATE
    fx = session.receive(data, 1.0)
    assert len(fx) == 1 and type(fx[0]) is AddIceCandidate, fx

    def ours(n: int) -> None:
        receive = session.receive
        for _ in range(n):
            receive(data, 1.0)

    # the floor: parse, dispatch on type through a dict, build one attrs effect
    def on_candidate(d: dict[str, Any]) -> Effect:
        return AddIceCandidate(d["call_id"], d["candidate"], d["sdp_mid"], d["sdp_mline_index"])

    handlers = {"candidate": on_candidate}
    loads = json.loads

    def floor(n: int) -> None:
        for _ in range(n):
            d = loads(data)
            handlers[d["type"]](d)

    base = best_of(floor, loops, repeats)
    value = best_of(ours, loops, repeats)
    return line("receive_per_message", value * 1e6, "us", base * 1e6, "ratio <= 2.0")


def bench_receive_stdlib(quick: bool) -> dict[str, Any]:
    """The same figure with the standard-library JSON backend (no orjson installed)."""
    previous = wire.use_json_backend("stdlib")
    try:
        result = bench_receive(quick)
    finally:
        wire.use_json_backend(previous)
    result["name"] = "receive_per_message_stdlib"
    return result


BENCHMARKS: list[Callable[[bool], dict[str, Any]]] = [bench_receive, bench_receive_stdlib]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the CI-sized set")
    parser.add_argument("--only", help="run one benchmark: receive or receive_stdlib")
    args = parser.parse_args(argv)
    for bench in BENCHMARKS:
        if args.only and bench.__name__ != f"bench_{args.only}":
            continue
        print(json.dumps(bench(args.quick)), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
