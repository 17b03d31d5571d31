"""The N-party harness (rtcstate.testing.nparty): 2-20 real sessions and the real hub over the
simulated network, members joining, leaving, disconnecting and reconnecting at random, the
moderator admitting, denying and ejecting: the participant lists converge to the relay's,
and every message reaches exactly the members it should, once, in its sender's order."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings

from rtcstate.testing.nparty import (
    Admit,
    Disconnect,
    Eject,
    Join,
    Leave,
    RoomScenario,
    Say,
    check_room,
    room_scenarios,
    run_room,
)

ROOT = Path(__file__).resolve().parents[1]

# m2 says something at the instant m1 leaves: the relay gets the message first and sends it to
# m1 while m1's leave is on its way (found with --hypothesis-seed=977747326683699665778231246
# 38911596978, "m1 never showed m8#1")
SAY_CROSSES_LEAVE = RoomScenario(
    members=5,
    actions=(Join(1, 1.05), Join(2, 1.1), Join(3, 1.15), Join(4, 1.2), Say(2, 2.0), Leave(1, 2.0)),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(room_scenarios())
@example(SAY_CROSSES_LEAVE)
def test_rooms_converge_and_deliver_exactly_once(scenario: RoomScenario) -> None:
    check_room(run_room(scenario))


def test_a_scripted_run_exercises_every_rule() -> None:
    started = time.monotonic()
    scenario = RoomScenario(
        members=5,
        moderated=True,
        actions=(
            Join(1, 1.0), Join(2, 1.0), Join(3, 1.0), Join(4, 1.0),
            Admit(2.0), Admit(2.5), Admit(3.0),
            Say(1, 4.0), Say(2, 4.0), Say(1, 4.1),
            Disconnect(2, 4.05, 2.0),
            Say(3, 5.0),
            Eject(3, 6.0), Say(1, 6.5),
            Leave(1, 7.0), Say(0, 12.0),
        ),
    )  # fmt: skip
    out = run_room(scenario)
    check_room(out)
    assert out.said == 6 and not out.skipped
    m1 = [r for r in out.relayed if r.content == "m1#1"]
    assert {r.to for r in m1} == {"m0/default", "m2/default", "m3/default"}
    # m4 still waits: nothing reached it; m3 was ejected: nothing after
    assert not [r for r in out.relayed if r.to == "m4/default"]
    assert not [r for r in out.relayed if r.to == "m3/default" and r.time > 6.0]
    waiting = out.conversation(4)
    assert waiting is not None and waiting.state.name == "WAITING"
    assert time.monotonic() - started < 30.0


def test_a_message_crossing_a_leave_is_shown_by_those_who_stay_only() -> None:
    out = run_room(SAY_CROSSES_LEAVE)
    check_room(out)
    to_m1 = [r for r in out.relayed if r.content == "m2#1" and r.to == "m1/default"]
    assert to_m1 and to_m1[0].member and to_m1[0].time > out.left["m1/default"][0]
    # m1 left at once (apiRTC: leave() is JOINED -> NOT_JOINED) and shows nothing after
    for index, shows in ((1, False), (0, True), (3, True), (4, True)):
        shown = [e.payload["content"] for e in out.clients[index].emits if e.event == "message"]
        assert ("m2#1" in shown) is shows, (index, shown)
    m1 = out.conversation(1)
    assert m1 is not None and m1.state.name == "NOT_JOINED"


def test_the_checker_catches_a_message_lost_after_a_rejoin() -> None:
    # m1 leaves and joins again: a message relayed to the new membership must be shown
    actions = (Join(1, 1.0), Join(2, 1.0), Leave(1, 2.0), Join(1, 3.0), Say(2, 4.0))
    out = run_room(RoomScenario(members=3, actions=actions))
    check_room(out)
    client = out.clients[1]
    client.emits[:] = [e for e in client.emits if e.event != "message"]
    try:
        check_room(out)
    except AssertionError as exc:
        assert "m1/default never showed m2#1" in str(exc)
    else:
        raise AssertionError("a message lost after a rejoin went unnoticed")


def test_the_checker_catches_a_lost_message() -> None:
    out = run_room(RoomScenario(members=3, actions=(Join(1, 1.0), Join(2, 1.0), Say(1, 2.0))))
    check_room(out)
    # remove what m2 showed: the checker must notice
    client = out.clients[2]
    client.emits[:] = [e for e in client.emits if e.event != "message"]
    try:
        check_room(out)
    except AssertionError as exc:
        assert "never showed m1#1" in str(exc)
    else:
        raise AssertionError("a lost message went unnoticed")


def test_the_rtc_room_fixture_example_runs_under_pytest(tmp_path: Path) -> None:
    marker = (
        "tests/test_conversation_network.py::test_the_rtc_room_fixture_example_runs_under_pytest"
    )
    text = (ROOT / "docs" / "testing.md").read_text(encoding="utf-8")
    match = re.search(rf"<!-- tested-by: {marker} -->\n```python\n(.*?)^```", text, re.M | re.S)
    assert match is not None
    (tmp_path / "test_from_docs.py").write_text(match.group(1), encoding="utf-8")
    env = dict(os.environ)
    env.pop("PYTEST_ADDOPTS", None)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "test_from_docs.py"],
        capture_output=True, text=True, timeout=240, cwd=tmp_path, env=env,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "1 passed" in done.stdout, done.stdout
