"""The N-party harness with media (rtcstate.testing.nparty): members publish, unpublish,
subscribe and unsubscribe while others join, leave, disconnect and get ejected; once settled
every member is subscribed to exactly the streams published that it asked for, each carried by
a connected mesh call, and no stream notice ever reached a waiter or an ejected member."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from rtcstate.conversation.call import ConversationCallState
from rtcstate.testing.harness import InvariantViolation
from rtcstate.testing.nparty import (
    Admit,
    Disconnect,
    Eject,
    Join,
    Publish,
    RoomScenario,
    Subscribe,
    Unpublish,
    Unsubscribe,
    check_media,
    check_room,
    room_scenarios,
    run_room,
    stream_of,
)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(room_scenarios(members=(2, 6), max_actions=30))
def test_members_end_subscribed_to_exactly_what_they_asked_for(scenario: RoomScenario) -> None:
    check_room(run_room(scenario))


def _mesh(out: object, index: int) -> dict[str, ConversationCallState]:
    conv = out.conversation(index)  # type: ignore[attr-defined]
    assert conv is not None
    return {sid: conv.media.calls[cid].state for sid, cid in conv.media.subscribed.items()}


def test_a_scripted_mesh_with_every_hazard() -> None:
    scenario = RoomScenario(
        members=5,
        moderated=True,
        actions=(
            Join(1, 1.0), Join(2, 1.0), Join(3, 1.0), Join(4, 1.0),
            Admit(2.0), Admit(2.2), Admit(2.4),  # m4 stays in the waiting room
            Publish(0, 3.0), Publish(1, 3.0), Publish(2, 3.0), Publish(3, 3.0),
            *(Subscribe(i, 4.0, j) for i in range(4) for j in range(4) if i != j),
            Subscribe(4, 4.0, 0),  # a waiter lists nothing: skipped
            Unsubscribe(1, 6.0, 0),
            Unpublish(2, 7.0),
            Eject(3, 8.0),
            Disconnect(1, 9.0, 2.0),
            Publish(0, 15.0),  # already published: skipped
        ),
    )  # fmt: skip
    out = run_room(scenario)
    check_room(out)
    # m1 lost its connection: back in the moderated room's waiting room, holding no media
    m1 = out.conversation(1)
    assert m1 is not None and m1.state.name == "WAITING"
    assert m1.media.calls == {} and m1.media.available == {}
    # m0 and m2 lost s1 (m1 gone), s2 was withdrawn, s3 left with the ejected m3
    assert _mesh(out, 0) == {}
    assert _mesh(out, 2) == {stream_of(0): ConversationCallState.CONNECTED}
    m2 = out.conversation(2)
    assert m2 is not None
    assert {s["streamId"] for s in m2.get_available_stream_list()} == {stream_of(0)}
    assert any("Subscribe(member=4" in s for s in out.skipped)
    assert any("Publish(member=0, at=15.0)" in s for s in out.skipped)
    assert not out.net.stray_media  # type: ignore[attr-defined]


def test_subscriptions_survive_while_nothing_happens() -> None:
    scenario = RoomScenario(
        members=4,
        actions=(
            Join(1, 1.0), Join(2, 1.0), Join(3, 1.0),
            *(Publish(i, 2.0) for i in range(4)),
            *(Subscribe(i, 3.0, j) for i in range(4) for j in range(4) if i != j),
        ),
    )  # fmt: skip
    out = run_room(scenario)
    check_room(out)
    for i in range(4):
        expected = {stream_of(j): ConversationCallState.CONNECTED for j in range(4) if j != i}
        assert _mesh(out, i) == expected
        pubs = out.conversation(i).media.calls  # type: ignore[union-attr]
        assert len(pubs) == 6  # three received, three sent: 12 subscriptions in the room


def test_the_checker_catches_a_missing_subscription() -> None:
    scenario = RoomScenario(
        members=2, actions=(Join(1, 1.0), Publish(0, 2.0), Subscribe(1, 3.0, 0))
    )
    out = run_room(scenario)
    check_media(out)
    conv = out.conversation(1)
    assert conv is not None
    conv.media.subscribed.clear()  # what a lost subscription would look like
    with pytest.raises(InvariantViolation, match="subscriptions differ"):
        check_media(out)
