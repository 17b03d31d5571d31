"""Contact posts: what mutmut found unchecked by test_contact_messaging.py (docs/testing.md,
"Mutation testing"): each outcome's effects field by field, the words of each refusal, the
post booked under its id, and the drops' details."""

from __future__ import annotations

from typing import Any

import pytest

from rtcstate import wire
from rtcstate.codes import ErrorNumber
from rtcstate.contact_post import (
    OutgoingPost,
    PostCommand,
    PostDrop,
    PostTimer,
    install,
    post,
)
from rtcstate.conversation import Reject, Resolve
from rtcstate.effects import CancelTimer, Drop, Effect, Emit, Send, StartTimer
from rtcstate.errors import RtcError
from rtcstate.media import StatsReport
from rtcstate.wire_contact import ContactAck, ContactText

TIMER = "post:p1:timeout"


class _Host:
    """The session's side of contact messaging, recording what it is asked."""

    def __init__(self, connected: bool = True) -> None:
        self.connected = connected
        self.address = "me/d1"
        self.attached: list[tuple[str, str]] = []
        self.keys: list[str] = []
        self.factories: dict[type[wire.Message], Any] = {}

    def attach(self, route: str, key: str, child: Any) -> None:
        self.attached.append((route, key))

    def child_output(self, child: Any, fx: list[Effect], key: str | None = None) -> list[Effect]:
        self.keys.append(str(key))
        return fx

    def set_factory(self, message_type: type[wire.Message], factory: Any) -> None:
        self.factories[message_type] = factory


def _post() -> OutgoingPost:
    return OutgoingPost("p1", "bob", PostCommand.MESSAGE, 7)


def test_a_message_is_sent_booked_under_its_id_and_resolves_with_uuid_0_by_default() -> None:
    host = _Host()
    out, fx = post(host, "p9", "bob/d2", 3.0, PostCommand.MESSAGE, "hi")
    assert out.value == 0
    assert fx == [Send("bob/d2", ContactText("p9", 0, "hi")), StartTimer("post:p9:timeout", 13.0)]
    assert host.keys == ["p9"] and [key for _, key in host.attached] == ["p9"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("", PostCommand.MESSAGE, "hi"), "not a contact: ''"),
        ((5, PostCommand.MESSAGE, "hi"), "not a contact: 5"),
        (("bob/", PostCommand.MESSAGE, "hi"), "not a contact: 'bob/'"),
        (("/d1", PostCommand.MESSAGE, "hi"), "not a contact: '/d1'"),
        (("bob", PostCommand.MESSAGE, ""), "a message is a non-empty string"),
        (("bob", PostCommand.DATA, "x"), "data is a JSON object (a dict)"),
        (("bob", PostCommand.CUSTOM_EVENT, None), "a custom event needs a name"),
    ],
)
def test_each_refusal_says_what_is_wrong(args: tuple[Any, ...], words: str) -> None:
    contact, command, content = args
    event = "ev" if content is not None and command is PostCommand.CUSTOM_EVENT else None
    host = _Host()
    with pytest.raises(RtcError) as info:
        post(host, "p1", contact, 0.0, command, content, event=event)
    assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    assert info.value.message == words
    assert host.attached == []


def test_an_events_content_must_be_a_dict_and_the_session_connected() -> None:
    with pytest.raises(RtcError) as info:
        post(_Host(), "p1", "bob", 0.0, PostCommand.CUSTOM_EVENT, "x", event="ev")
    assert info.value.message == "an event's content is a dict"
    with pytest.raises(RtcError) as info:
        post(_Host(connected=False), "p1", "bob", 0.0, PostCommand.DATA, {})
    assert info.value.code is ErrorNumber.ERROR_WRONG_STATE
    assert info.value.message == f"{PostCommand.DATA.value} while not connected"
    with pytest.raises(RtcError) as info:
        post(_Host(), "p1", "bob", 0.0, PostCommand.DATA, {"x": float("nan")})
    assert info.value.message.startswith("cannot be sent: ")


def test_an_acknowledgement_resolves_with_the_posts_id() -> None:
    fx = _post().receive(wire.Envelope(ContactAck("p1"), None, "bob/p"), 1.0)
    assert fx == [CancelTimer(TIMER), Resolve("contact:bob", "p1", "message", 7)]


def _not_delivered(code: ErrorNumber, words: str) -> list[Effect]:
    payload = {
        "error": {"code": code.value, "message": words},
        "contact": "bob",
        "command": "message",
    }
    return [
        Reject("contact:bob", "p1", "message", code.value, words),
        Emit("contact:bob", "messageNotDelivered", payload),
    ]


def test_a_timeout_rejects_without_cancelling_its_own_timer() -> None:
    fx = _post().timer_fired(PostTimer.TIMEOUT.value, 10.0)
    assert fx == _not_delivered(ErrorNumber.ERROR_TIMED_OUT, "no acknowledgement from the contact")


def test_an_unreached_contact_cancels_the_timer_then_rejects() -> None:
    fx = _post().receive(wire.Envelope(wire.UserNotFound("p1", "bob")), 1.0)
    assert fx == [
        CancelTimer(TIMER),
        *_not_delivered(ErrorNumber.ERROR_NOT_FOUND, "the contact is not online"),
    ]


def test_the_drops_name_what_they_drop() -> None:
    p = _post()
    assert p.timer_fired("bogus", 1.0) == [Drop(PostDrop.STALE_TIMER, f"{TIMER}: bogus")]
    assert p.media_event(StatsReport("x"), 1.0) == [Drop(PostDrop.UNEXPECTED_REPORT, "StatsReport")]
    host = _Host()
    install(host)
    late = host.factories[ContactAck](host, wire.Envelope(ContactAck("p3")), 1.0)
    assert late == [Drop(PostDrop.LATE_ACK, "ack of the settled post p3")]
