"""A presence request the relay refused is remembered: not re-requested after every
reconnection, until the application asks for it again (issue 11, gap C)."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_hub_security import messages, reg, send
from test_presence_scope import connected, registered

from rtcstate import wire
from rtcstate.effects import Emit, Send
from rtcstate.hub import Hub
from rtcstate.presence import PresenceScope
from rtcstate.session import Session, SessionState


def reconnect(s: Session, now: float) -> list[wire.Message]:
    """Lose the relay, come back; the presence requests sent after registration."""
    s.connection_lost(now)
    s.timer_fired("session:retry", now + 1.0)
    s.connection_made(now + 1.1)
    fx = registered(s, f"S{now}", now + 1.2)
    assert s.state is SessionState.CONNECTED
    return [e.message for e in fx if isinstance(e, Send) and e.message.TYPE.startswith("presence")]


def refusal(**refused: Any) -> bytes:
    msg = wire.ServerError("too_many_subscriptions", "at most 2 contacts and groups", refused)
    return wire.encode(msg, to="alice/d1")


def test_the_hub_says_what_it_refused() -> None:
    hub = Hub(max_subscriptions=2, max_groups=1, presence_group=None)
    reg(hub, "a", "alice")
    fx = send(hub, "a", wire.PresenceSubscribe(["bob", "carol", "dave"], []))
    [err] = messages(fx, "a")
    assert isinstance(err, wire.ServerError) and err.refused == {
        "type": "presence_subscribe", "contacts": ["bob", "carol", "dave"], "groups": []
    }  # fmt: skip
    fx = send(hub, "a", wire.PresenceGroups(["g1", "g2"], []))
    [err] = messages(fx, "a")
    assert isinstance(err, wire.ServerError)
    assert err.refused == {"type": "presence_groups", "join": ["g1", "g2"], "leave": []}
    # accepted requests are not answered at all
    assert messages(send(hub, "a", wire.PresenceGroups(["g1"], [])), "a") == []


def test_a_refused_subscription_is_not_resent_after_reconnection_until_asked_again() -> None:
    s = connected()
    s.subscribe_presence(1.0, contacts=["bob"], groups=["team"])
    s.subscribe_presence(1.0, contacts=["carol", "dave"])
    s.join_group(1.0, "ops")
    fx = s.receive(refusal(type="presence_subscribe", contacts=["carol", "dave"], groups=[]), 1.1)
    [error] = [e for e in fx if isinstance(e, Emit) and e.event == "error"]
    assert error.payload["descriptor"]["refused"]["contacts"] == ["carol", "dave"]
    assert s.state is SessionState.CONNECTED
    fx = s.receive(refusal(type="presence_groups", join=["ops"], leave=[]), 1.2)
    assert list(s.presence_scope.refused["contacts"]) == ["carol", "dave"]
    assert list(s.presence_scope.refused["joined"]) == ["ops"]
    for k in range(3):  # not after this reconnection, nor the next ones
        sent = reconnect(s, 10.0 * (k + 1))
        assert sent == [wire.PresenceSubscribe(contacts=["bob"], groups=["team"])]
    # the application asks again: asked now, and after the next reconnection
    assert s.subscribe_presence(50.0, contacts=["carol"]) == [
        Send(None, wire.PresenceSubscribe(contacts=["carol"], groups=[]))
    ]
    assert list(s.presence_scope.refused["contacts"]) == ["dave"]
    s.join_group(50.0, "ops")
    assert reconnect(s, 60.0) == [
        wire.PresenceGroups(join=["ops"], leave=[]),
        wire.PresenceSubscribe(contacts=["bob", "carol"], groups=["team"]),
    ]


def test_a_refused_name_too_long_is_not_final_for_the_session() -> None:
    s = connected()
    s.subscribe_presence(1.0, contacts=["x" * 100])
    what = {"type": "presence_subscribe", "contacts": ["x" * 100], "groups": []}
    msg = wire.ServerError("name_too_long", "names are limited to 64 bytes", what)
    s.receive(wire.encode(msg, to="alice/d1"), 1.1)
    assert s.state is SessionState.CONNECTED and not s.presence_scope.contacts


NAMES = st.lists(st.sampled_from(["a", "b", "c", "d"]), max_size=4)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["sub", "join", "refuse_sub", "refuse_join", "junk"]), NAMES),
        max_size=12,
    )
)
def test_the_scope_never_resends_what_was_refused_since_last_asked(
    steps: list[tuple[str, list[str]]],
) -> None:
    scope = PresenceScope()
    asked: dict[str, set[str]] = {"contacts": set(), "joined": set()}
    refused: dict[str, set[str]] = {"contacts": set(), "joined": set()}
    for op, names in steps:
        if op == "sub" and names:
            scope.subscribe(names, [])
            asked["contacts"] |= set(names)
            refused["contacts"] -= set(names)
        elif op == "join" and names:
            scope.join(names[0])
            asked["joined"].add(names[0])
            refused["joined"].discard(names[0])
        elif op == "refuse_sub":
            scope.refuse({"type": "presence_subscribe", "contacts": names, "groups": []})
            refused["contacts"] |= set(names) & asked["contacts"]
            asked["contacts"] -= set(names)
        elif op == "refuse_join":
            scope.refuse({"type": "presence_groups", "join": names, "leave": []})
            refused["joined"] |= set(names) & asked["joined"]
            asked["joined"] -= set(names)
        else:  # anything else from the wire is ignored, never raises
            assert not scope.refuse({"type": "other", "contacts": 3})
    sent_contacts: set[str] = set()
    sent_joined: set[str] = set()
    for msg in scope.resend():
        if isinstance(msg, wire.PresenceSubscribe):
            sent_contacts |= set(msg.contacts)
        elif isinstance(msg, wire.PresenceGroups):
            sent_joined |= set(msg.join)
    assert sent_contacts == asked["contacts"] and sent_joined == asked["joined"]
    assert not sent_contacts & refused["contacts"] and not sent_joined & refused["joined"]
    assert set(scope.refused["contacts"]) == refused["contacts"]
