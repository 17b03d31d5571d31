"""Every (state, trigger) and every (state, input) pair of the conversation machines.

* :func:`check_pair` fires each trigger of Conversation, Conference and
  ReceivedConversationJoinRequest in each state with Hypothesis-drawn arguments (the relay
  message a wire trigger carries, the request a command sends): a row moves to one of its
  destinations, an illegal command raises its apiRTC number and changes nothing, an ignored
  pair does nothing.
* :func:`check_input_pair` hands each declared input (every relay message type, with any
  content, and the repeat timer) to ``receive`` / ``timer_fired`` in each state: it never
  raises, and the declared outcome holds (a ``Drop`` and no state change for an ignored pair).
* the compiled table agrees with ``transitions`` on random trigger sequences.
"""

from __future__ import annotations

import enum
from typing import Any

import attrs
import pytest
from hypothesis import strategies as st

from rtcstate import wire
from rtcstate.codes import ConversationRole
from rtcstate.conversation import (
    Conference,
    Conversation,
    ConversationState,
    ConversationTimer,
    ReceivedConversationJoinRequest,
)
from rtcstate.effects import Effect
from rtcstate.machine import spec_of
from rtcstate.testing.exhaustive import (
    check_differential,
    check_input_pair,
    check_pair,
    input_pairs,
    pairs,
)
from rtcstate.testing.strategies import strategy_for
from rtcstate.wire_conversation import (
    ConvAllow,
    ConvClose,
    ConvDeny,
    ConvEject,
    ConvGetData,
    ConvJoin,
    ConvSendData,
    ConvSendEvent,
    ConvSendMessage,
    ConvSetData,
    ConvUpdateData,
)

ROOM = "room"
ME = "me/laptop"
REQUEST_IDS = st.sampled_from(["j1", "m1", "x9"])


def _in_room(cls: type[wire.Message]) -> st.SearchStrategy[wire.Message]:
    """Messages of ``cls``, mostly for this room and naming request ids it may hold."""

    def place(msg: wire.Message, rid: str, contact: str) -> wire.Message:
        changes: dict[str, Any] = {"room": ROOM}
        if hasattr(msg, "request_id"):
            changes["request_id"] = rid
        if hasattr(msg, "contact"):
            changes["contact"] = contact
        return attrs.evolve(msg, **changes)  # type: ignore[misc]

    contacts = st.sampled_from([ME, "me", "bob/phone", "bob", "eve/x"])
    ours = st.builds(place, strategy_for(cls), REQUEST_IDS, contacts)
    return st.one_of(ours, ours, strategy_for(cls))


WIRE_TRIGGERS: dict[str, type[wire.Message]] = {}
for _key, _route in spec_of(Conference).inputs.wire.items():  # type: ignore[union-attr]
    if isinstance(_route, str):
        WIRE_TRIGGERS[_route] = _key
    else:
        for _trigger in _route.triggers.values():
            WIRE_TRIGGERS[_trigger] = _key
        if isinstance(_route.otherwise, str):
            WIRE_TRIGGERS[_route.otherwise] = _key


def _msg_args(cls: type[wire.Message]) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
    return st.builds(
        lambda now, msg, sender: ((now,), {"msg": msg, "sender": sender}),
        st.floats(0, 1e6),
        _in_room(cls),
        st.sampled_from([None, "bob/phone"]),
    )


def _request_args(
    request: st.SearchStrategy[Any],
) -> st.SearchStrategy[tuple[tuple[Any, ...], dict[str, Any]]]:
    return st.builds(lambda now, r: ((now,), {"request": r}), st.floats(0, 1e6), request)


REQUESTS = {
    "send_message": st.builds(ConvSendMessage, st.just(ROOM), REQUEST_IDS, st.text(min_size=1)),
    "send_data": st.builds(ConvSendData, st.just(ROOM), REQUEST_IDS, st.just({"k": 1})),
    "send_custom_event": st.builds(
        ConvSendEvent, st.just(ROOM), REQUEST_IDS, st.just("ev"), st.just({})
    ),
    "get_data": st.builds(ConvGetData, st.just(ROOM), REQUEST_IDS),
    "set_data": st.builds(ConvSetData, st.just(ROOM), REQUEST_IDS, st.integers(0, 3), st.just({})),
    "update_data": st.builds(
        ConvUpdateData, st.just(ROOM), REQUEST_IDS, st.integers(0, 3), st.just({"a": None})
    ),
    "allow_entry": st.builds(ConvAllow, st.just(ROOM), REQUEST_IDS, st.just("bob")),
    "deny_entry": st.builds(ConvDeny, st.just(ROOM), REQUEST_IDS, st.just("bob")),
    "eject": st.builds(ConvEject, st.just(ROOM), REQUEST_IDS, st.just("bob")),
    "close": st.builds(ConvClose, st.just(ROOM), REQUEST_IDS),
}

ARGS: dict[str, Any] = {t: _msg_args(cls) for t, cls in WIRE_TRIGGERS.items()}
ARGS.update({t: _request_args(r) for t, r in REQUESTS.items()})


def _make(cls: type[Conversation] = Conference) -> Conversation:
    return cls(ROOM, ME)


def _prepare(conv: Conversation, value: Any) -> None:
    """Give the conversation what its state implies: a pending join, members, a role."""
    joined_role, pending = value
    if conv.state is not ConversationState.NOT_JOINED and pending:
        conv._join_id = "j1"
        conv._pending["j1"] = _pending(ConvJoin(ROOM, "j1"))
    if pending:
        conv._pending["m1"] = _pending(ConvSendMessage(ROOM, "m1", "hi"))
    if conv.state is ConversationState.JOINED:
        conv.role = joined_role
        conv.contacts = {"bob/phone": ConversationRole.CONTRIBUTOR}
    if conv._pending:
        conv._timer_armed = True


def _pending(request: Any) -> Any:
    from rtcstate.conversation.machine import _Pending

    return _Pending(request)


PREPARE_VALUES = st.tuples(st.sampled_from(list(ConversationRole)), st.booleans())


@pytest.mark.parametrize("cls", [Conversation, Conference])
def test_every_state_trigger_pair(cls: type[Conversation]) -> None:
    for state, trigger in pairs(cls):
        check_pair(
            cls,
            state,
            trigger,
            lambda: _make(cls),
            args=ARGS,
            prepare=_prepare,
            prepare_values=PREPARE_VALUES,
            max_examples=8,
        )


def _deliver(conv: Conversation, value: Any, now: float) -> list[Effect]:
    if isinstance(value, enum.Enum):
        return conv.timer_fired(value.value, now)
    return conv.receive(value, now)


def _inputs(key: object) -> st.SearchStrategy[Any]:
    if isinstance(key, ConversationTimer):
        return st.just(key)
    assert isinstance(key, type)
    return st.builds(wire.Envelope, _in_room(key), st.none(), st.sampled_from([None, "bob/phone"]))


@pytest.mark.parametrize("cls", [Conversation, Conference])
def test_every_state_input_pair_never_raises(cls: type[Conversation]) -> None:
    for state, key in input_pairs(cls):
        check_input_pair(
            cls,
            state,
            key,
            lambda: _make(cls),
            _inputs(key),
            _deliver,
            prepare=_prepare,
            prepare_values=PREPARE_VALUES,
            max_examples=8,
        )


def test_join_request_pairs() -> None:
    for state, trigger in pairs(ReceivedConversationJoinRequest):
        check_pair(
            ReceivedConversationJoinRequest,
            state,
            trigger,
            lambda: ReceivedConversationJoinRequest("room:bob/p", ROOM, "bob/p"),
        )


@pytest.mark.parametrize("cls", [Conversation, Conference])
def test_compiled_table_agrees_with_transitions(cls: type[Conversation]) -> None:
    check_differential(
        cls,
        lambda klass: klass(ROOM, ME),
        args=ARGS,
        max_steps=15,
        max_examples=40,
    )


def test_every_trigger_has_an_argument_strategy_or_takes_none() -> None:
    spec = spec_of(Conference)
    plain = {"join", "cancel_join", "leave", "repeat_timer", "disconnected", "reconnected"}
    assert set(spec.triggers) == set(ARGS) | plain
