"""Owner notices and inputs as data for the children of a call.

* A call tells its owner its life as typed notices (``CallEstablished``, then exactly one of
  ``CallEnded`` / ``CallDeclined``) with the real ``now``, and fires no application event; a
  data channel does the same to its owner (a file transfer). Without an owner, the application
  hears the same apiRTC events as before (the boundary builds them).
* Every (state, declared input) pair of the data channel, both received invitations, the sent
  invitation and both sides of a file transfer: wire messages, adapter reports, timers and
  owner notices, drawn by Hypothesis, never raise and end where the table says.
"""

from __future__ import annotations

import ast
import enum
from pathlib import Path
from typing import Any

import attrs
import pytest
from calltools import connected_session, invite_sender
from hypothesis import given
from hypothesis import strategies as st

from rtcstate import media, wire
from rtcstate.call import Call, CallState
from rtcstate.call_factory import DataCallHold, HoldState, HoldTimer, new_outgoing_call
from rtcstate.codes import (
    LOCAL_ERROR_TO_WIRE_REASON,
    WIRE_REASON_TO_DISTANT_ERROR,
    CallType,
    HangupFrom,
    HangupReason,
)
from rtcstate.datachannel import ChannelTimer, DataChannel, ReceivedDataChannelInvitation
from rtcstate.effects import Drop, Effect, Emit
from rtcstate.filetransfer import (
    ChannelBufferedHigh,
    ChannelBufferedLow,
    ChannelData,
    FileTransfer,
    FileTransferState,
    ReceivedFileTransferInvitation,
    send_file,
)
from rtcstate.invitation import (
    InvitationTimer,
    ReceivedCallInvitation,
    SentInvitation,
)
from rtcstate.machine import spec_of
from rtcstate.notices import (
    CallDeclined,
    CallEnded,
    CallEstablished,
    ChannelAccepted,
    ChannelClosed,
    ChannelDeclined,
    ChannelEnded,
    ChannelOpened,
    end_code,
)
from rtcstate.testing.exhaustive import check_input_pair, check_pair, input_pairs, pairs
from rtcstate.testing.strategies import strategy_for
from rtcstate.transfer.common import TransferErrorCode
from rtcstate.transfer.notices import (
    TransferAccepted,
    TransferCancelled,
    TransferCompleted,
    TransferDeclined,
    TransferFailed,
    TransferInterrupted,
    TransferProgress,
    TransferResumed,
)
from rtcstate.transfer.receiver import ReceiverTimer
from rtcstate.transfer.sender import SenderTimer

ROOT = Path(__file__).resolve().parents[1]
TEXT = st.text(max_size=8)
REASONS = st.sampled_from([r.value for r in HangupReason]) | TEXT
FROMS = st.sampled_from(list(HangupFrom))
NOW = st.floats(0, 1e6, allow_nan=False)

# --- the notices themselves -------------------------------------------------------------------


@given(frm=FROMS, reason=REASONS)
def test_an_end_carries_the_error_the_application_heard_with_it(
    frm: HangupFrom, reason: str
) -> None:
    code = end_code(frm, reason)
    if frm is HangupFrom.LOCAL:
        expected = {r.value: c for c, r in LOCAL_ERROR_TO_WIRE_REASON.items()}.get(reason)
    else:
        known = {r.value: r for r in HangupReason}
        expected = WIRE_REASON_TO_DISTANT_ERROR.get(known[reason]) if reason in known else None
    assert code is expected
    assert CallEnded.of(frm, reason) == CallEnded(frm, reason, expected)
    assert CallDeclined(reason).frm is HangupFrom.REMOTE
    assert CallDeclined(reason).code is end_code(HangupFrom.REMOTE, reason)


def test_exactly_the_end_notices_are_final() -> None:
    finals = {CallEnded, CallDeclined, ChannelEnded, ChannelDeclined}
    every = finals | {CallEstablished, ChannelAccepted, ChannelOpened, ChannelClosed}
    assert {cls for cls in every if cls.FINAL} == finals


# --- the call tells its owner, with the real now -----------------------------------------------


@attrs.define
class Recorder:
    """An owner that records what it is told."""

    told: list[tuple[object, float]] = attrs.field(factory=list)

    def call_notice(self, fx: list[Effect], notice: Any, now: float) -> None:
        self.told.append((notice, now))


def _owned_outgoing(owner: Recorder | None) -> Call:
    s = connected_session("alice", "d1")
    call = new_outgoing_call(s, "bob", 1.0, call_type=CallType.DATA)
    call.owner = owner  # type: ignore[assignment]
    call.start(1.0)
    call.media_event(media.LocalDescriptionReady(call.call_id, "offer", "sdp"), 2.0)
    assert call.state is CallState.INVITING
    return call


@pytest.mark.parametrize("owned", [True, False])
def test_a_declined_call_tells_declined_once_with_now_or_fires_its_events(owned: bool) -> None:
    rec = Recorder()
    call = _owned_outgoing(rec if owned else None)
    bye = wire.Envelope(wire.Bye(call.call_id, "User_Busy"), "alice/d1", "bob/d1")
    fx = call.receive(bye, 7.5)
    emits = [(e.event, e.payload) for e in fx if isinstance(e, Emit)]
    if owned:
        assert rec.told == [(CallDeclined("User_Busy"), 7.5)]
        assert emits == []  # an owned call fires nothing for the application
    else:
        assert emits == [
            ("hangup", {"from": "remote", "reason": "User_Busy"}),
            ("declined", {"reason": "User_Busy"}),
            ("response", "declined"),
        ]


@pytest.mark.parametrize("owned", [True, False])
def test_an_established_then_ended_call_tells_each_once_with_now(owned: bool) -> None:
    rec = Recorder()
    call = _owned_outgoing(rec if owned else None)
    answer = wire.Answer(call.call_id, "sdp")
    call.receive(wire.Envelope(answer, "alice/d1", "bob/d1"), 3.0)
    fx = call.media_event(media.IceStateChanged(call.call_id, "connected"), 4.25)
    fx += call.media_event(media.IceStateChanged(call.call_id, "connected"), 4.5)
    bye = wire.Envelope(wire.Bye(call.call_id, "Ice_failed"), "alice/d1", "bob/d1")
    fx += call.receive(bye, 9.0)
    emits = [e.event for e in fx if isinstance(e, Emit)]
    if owned:
        ended = CallEnded(
            HangupFrom.REMOTE, "Ice_failed", end_code(HangupFrom.REMOTE, "Ice_failed")
        )
        assert ended.code is not None
        assert rec.told == [(CallEstablished(), 4.25), (ended, 9.0)]
        assert emits == []
    else:
        assert emits.count("accepted") == 1 and emits[-1] == "hangup"


def test_a_channel_tells_its_owner_with_the_real_now() -> None:
    s = connected_session("alice", "d1")
    transfer, _ = send_file(s, "bob", 1.0, {"name": "f", "type": "text/plain", "size": 3})
    told: list[tuple[object, float]] = []

    @attrs.define
    class Spy:
        def channel_notice(self, fx: list[Effect], notice: Any, now: float) -> None:
            told.append((notice, now))

        def channel_data(self, fx: list[Effect], data: Any, now: float) -> None: ...

        def channel_buffered(self, fx: list[Effect], high: bool, now: float) -> None: ...

    dc = transfer.channel
    dc.owner = Spy()
    dc.call_notice([], CallEstablished(), 5.0)
    dc.media_event(media.DataChannelOpened(dc.id), 6.0)
    dc.call_notice([], CallEnded(HangupFrom.LOCAL, "Ice_failed", None), 8.0)
    assert told == [
        (ChannelAccepted(), 5.0),
        (ChannelOpened(), 6.0),
        (ChannelEnded(HangupFrom.LOCAL, "Ice_failed", None), 8.0),
        (ChannelClosed(), 8.0),
    ]


def test_no_trigger_is_fired_at_time_zero_and_no_owner_matches_event_names() -> None:
    """The core passes the real ``now`` and dispatches owner notices by class."""
    for path in (ROOT / "rtcstate").rglob("*.py"):
        if "testing" in path.parts:
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and node.name in ("call_event", "channel_event"):
                raise AssertionError(f"{path}: {node.name} (owners take typed notices)")
            if isinstance(node, ast.arguments):
                names = [a.arg for a in node.args[-len(node.defaults) :]] if node.defaults else []
                for name, default in zip(names, node.defaults, strict=True):
                    if name == "now" and isinstance(default, ast.Constant):
                        raise AssertionError(f"{path}:{default.lineno}: now defaults to a constant")
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") in ("fire", "deliver"):
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and arg.value == 0.0 and arg.value != 0:
                        raise AssertionError(f"{path}:{node.lineno}: a trigger fired at 0.0")


# --- every (state, declared input) pair -------------------------------------------------------

PEERS = st.sampled_from(["bob/d1", "bob", None, "eve/x"])


def _notice(cls: type) -> st.SearchStrategy[Any]:
    if cls in (CallEnded, ChannelEnded):
        return st.builds(cls, FROMS, REASONS, st.none())
    if cls in (CallDeclined, ChannelDeclined):
        return st.builds(cls, REASONS)
    return st.just(cls())


def _wire(cls: type, sender: st.SearchStrategy[str | None]) -> st.SearchStrategy[Any]:
    return st.builds(wire.Envelope, strategy_for(cls), st.just("me/d1"), sender)


def _timer(key: enum.Enum) -> st.SearchStrategy[Any]:
    return st.just(key)


_COUNTS = (st.sampled_from([0, 50, 100]), st.just(100), st.integers(0, 9), st.just(1.0))
TRANSFER_NOTICES: dict[type, st.SearchStrategy[Any]] = {
    TransferProgress: st.builds(TransferProgress, *_COUNTS),
    TransferCompleted: st.builds(TransferCompleted, *_COUNTS),
    TransferFailed: st.builds(TransferFailed, st.sampled_from(TransferErrorCode), TEXT),
    TransferDeclined: st.builds(TransferDeclined, TEXT, TEXT),
    TransferCancelled: st.builds(TransferCancelled, FROMS, TEXT),
    TransferAccepted: st.builds(TransferAccepted, st.integers(1, 9)),
    TransferInterrupted: st.builds(TransferInterrupted, st.integers(0, 9)),
    TransferResumed: st.builds(TransferResumed, st.integers(0, 9)),
}
"""What an owner's transfer machine may tell it (rtcstate.transfer.notices), each kind."""


def _values(spec_cls: type, key: object, sender: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    spec = spec_of(spec_cls)
    assert spec.inputs is not None
    if isinstance(key, enum.Enum):
        return _timer(key)
    assert isinstance(key, type)
    if key is ChannelData:  # a message on the owner's channel: bytes or text
        return st.builds(_OnChannel, st.binary(max_size=40) | TEXT)
    if key in (ChannelBufferedHigh, ChannelBufferedLow):
        return st.just(_Buffered(key is ChannelBufferedHigh))
    if key in TRANSFER_NOTICES:  # a notice of the owner's transfer machine
        return TRANSFER_NOTICES[key]
    if key in spec.inputs.notices:
        return _notice(key)
    if key in spec.inputs.wire:
        return _wire(key, sender)
    return {
        media.DataChannelOpened: st.builds(media.DataChannelOpened, TEXT),
        media.DataChannelClosed: st.builds(media.DataChannelClosed, TEXT),
        media.DataChannelMessage: st.builds(
            media.DataChannelMessage, TEXT, st.binary(max_size=40) | TEXT
        ),
        media.BufferedAmountHigh: st.builds(media.BufferedAmountHigh, TEXT),
        media.BufferedAmountLow: st.builds(media.BufferedAmountLow, TEXT),
    }[key]


@attrs.frozen
class _OnChannel:
    data: bytes | str


@attrs.frozen
class _Buffered:
    high: bool


def _deliver_to(obj: Any, value: Any, now: float, *, route: str, route_value: str) -> list[Effect]:
    fx: list[Effect] = []
    if isinstance(value, _OnChannel):
        obj.channel_data(fx, value.data, now)
        return fx
    if isinstance(value, _Buffered):
        obj.channel_buffered(fx, value.high, now)
        return fx
    if type(value) in TRANSFER_NOTICES:  # what the owner's transfer machine tells it
        obj.transfer_notice(fx, value, now)
        return fx
    if isinstance(value, enum.Enum):
        return list(obj.timer_fired(value.value, now))
    if isinstance(value, wire.Envelope):
        msg = value.message
        field = "ref_id" if isinstance(msg, wire.UserNotFound) else route
        if hasattr(msg, field):
            msg = attrs.evolve(msg, **{field: route_value})
        return list(obj.receive(attrs.evolve(value, message=msg), now))
    if isinstance(value, media.MediaEvent):
        return list(obj.media_event(attrs.evolve(value, channel_id=route_value), now))
    if type(value).__name__.startswith("Call"):
        obj.call_notice(fx, value, now)
    else:
        obj.channel_notice(fx, value, now)
    return fx


def _ids(cls: type) -> list[Any]:
    return [
        pytest.param(s, k, id=f"{s.name}-{getattr(k, '__name__', k)}") for s, k in input_pairs(cls)
    ]


# data channel


def _channel() -> DataChannel:
    s = connected_session("alice", "d1")
    call = new_outgoing_call(s, "bob", 0.0, call_type=CallType.DATA)
    dc = DataChannel(s, "ch-1", call, "bob", "bob", "chat")
    call.owner = dc
    s.attach("channel_id", dc.id, dc)
    return dc


def _shape_channel(dc: DataChannel, shape: tuple[bool, bool, bool, int]) -> None:
    dc.outgoing, dc._open, dc._closed_told, tries = shape
    dc._rtx = invite_sender(dc, tries)


def test_every_declared_input_of_a_data_channel_is_covered() -> None:
    keys = set(spec_of(DataChannel).input_keys())
    assert set(ChannelTimer) <= keys
    assert {CallEstablished, CallEnded, CallDeclined} <= keys
    routed = {c for c in wire.MESSAGE_TYPES.values() if c.ROUTE == "channel_id"}
    assert routed - {wire.FileOffer} <= keys


@pytest.mark.parametrize(("state", "key"), _ids(DataChannel))
def test_every_data_channel_state_declared_input_pair(state: enum.Enum, key: object) -> None:
    check_input_pair(
        DataChannel, state, key, _channel, _values(DataChannel, key, PEERS),
        lambda dc, v, now: _deliver_to(dc, v, now, route="channel_id", route_value=dc.id),
        prepare=_shape_channel,
        prepare_values=st.tuples(st.booleans(), st.booleans(), st.booleans(), st.integers(0, 3)),
        max_examples=8,
    )  # fmt: skip


# received data channel invitation


def _dc_invitation() -> ReceivedDataChannelInvitation:
    s = connected_session("bob", "d1")
    call = Call(s, "c-1", "alice", "alice/d1", CallType.DATA, outgoing=False)
    call.state = CallState.RINGING
    inv = ReceivedDataChannelInvitation(s, call, "ch-1", "chat", "alice/d1")
    call.owner = inv
    return inv


@pytest.mark.parametrize(("state", "key"), _ids(ReceivedDataChannelInvitation))
def test_every_received_channel_invitation_declared_input_pair(
    state: enum.Enum, key: object
) -> None:
    check_input_pair(
        ReceivedDataChannelInvitation, state, key, _dc_invitation,
        _values(ReceivedDataChannelInvitation, key, PEERS),
        lambda inv, v, now: _deliver_to(inv, v, now, route="call_id", route_value=inv.id),
        max_examples=8,
    )  # fmt: skip


# invitations


def test_a_received_call_invitation_declares_no_input_of_its_own() -> None:
    assert spec_of(ReceivedCallInvitation).input_keys() == ()
    assert spec_of(SentInvitation).input_keys() == (wire.InviteAnswer, InvitationTimer.EXPIRE)


@pytest.mark.parametrize(("state", "key"), _ids(SentInvitation))
def test_every_sent_invitation_declared_input_pair(state: enum.Enum, key: object) -> None:
    check_input_pair(
        SentInvitation, state, key, lambda: SentInvitation("sent-1", "bob", expiration_time=5.0),
        _values(SentInvitation, key, PEERS),
        lambda inv, v, now: _deliver_to(
            inv, v, now, route="invitation_id", route_value=inv.id
        ),
        max_examples=8,
    )  # fmt: skip


# file transfer, sender


def _transfer() -> FileTransfer:
    s = connected_session("alice", "d1")
    transfer, _ = send_file(s, "bob", 0.0, {"name": "f", "type": "text/plain", "size": 3})
    return transfer


def _shape_transfer(transfer: FileTransfer, _: object) -> None:
    if transfer.state is not FileTransferState.SETUP:
        transfer._start([], 0.0)  # SENDING: the transfer machine exists (as the table implies)


def test_every_declared_input_of_a_file_transfer_is_covered() -> None:
    keys = set(spec_of(FileTransfer).input_keys())
    assert set(SenderTimer) <= keys
    assert {ChannelAccepted, ChannelOpened, ChannelClosed, ChannelEnded, ChannelDeclined} <= keys
    rkeys = set(spec_of(ReceivedFileTransferInvitation).input_keys())
    assert set(ReceiverTimer) <= rkeys and wire.FileOffer in rkeys
    assert {CallEnded, CallDeclined, ChannelOpened, ChannelClosed, ChannelEnded} <= rkeys


@pytest.mark.parametrize(("state", "key"), _ids(FileTransfer))
def test_every_file_transfer_state_declared_input_pair(state: enum.Enum, key: object) -> None:
    check_input_pair(
        FileTransfer, state, key, _transfer, _values(FileTransfer, key, PEERS),
        lambda t, v, now: _deliver_to(t, v, now, route="transfer_id", route_value=t.id),
        prepare=_shape_transfer, max_examples=8,
    )  # fmt: skip


# file transfer, receiver


def _file_invitation() -> ReceivedFileTransferInvitation:
    s = connected_session("bob", "d1")
    call = Call(s, "c-1", "alice", "alice/d1", CallType.DATA, outgoing=False)
    call.state = CallState.RINGING
    inv = ReceivedFileTransferInvitation(s, call, "ch-1", "f", "text/plain", 10, "alice/d1")
    call.owner = inv
    s.attach("transfer_id", inv.id, inv)
    return inv


@pytest.mark.parametrize(("state", "key"), _ids(ReceivedFileTransferInvitation))
def test_every_received_file_invitation_declared_input_pair(state: enum.Enum, key: object) -> None:
    senders = st.sampled_from(["alice/d1", "alice", None, "eve/x"])
    check_input_pair(
        ReceivedFileTransferInvitation, state, key, _file_invitation,
        _values(ReceivedFileTransferInvitation, key, senders),
        lambda inv, v, now: _deliver_to(inv, v, now, route="channel_id", route_value="ch-1"),
        max_examples=8,
    )  # fmt: skip


def test_a_final_notice_releases_a_received_transfer_whatever_its_status() -> None:
    for state in spec_of(ReceivedFileTransferInvitation).states:
        inv = _file_invitation()
        inv.state = state
        fx: list[Effect] = []
        inv.channel_notice(fx, ChannelEnded(HangupFrom.REMOTE, "x", None), 3.0)
        assert inv.ended and inv.session.child("transfer_id", inv.id) is None
        later: list[Effect] = []
        inv.channel_notice(later, ChannelClosed(), 4.0)  # released: hears nothing more
        assert later == []
        assert all(isinstance(e, Effect) for e in fx)
        assert not any(isinstance(e, Drop) and e.reason == "unexpected-input" for e in fx)


# the call factory's hold


def _hold() -> DataCallHold:
    s = connected_session("bob", "d1")
    call = Call(s, "c-1", "alice", "alice/d1", CallType.DATA, outgoing=False)
    call.state = CallState.RINGING
    return DataCallHold(s, "c-1", "alice", call=call)


@pytest.mark.parametrize(("state", "key"), _ids(DataCallHold))
def test_every_hold_state_declared_input_pair(state: enum.Enum, key: object) -> None:
    check_input_pair(
        DataCallHold, state, key, _hold, st.just(key),
        lambda hold, timer, now: hold.timer_fired(timer.value, now), max_examples=3,
    )  # fmt: skip


@pytest.mark.parametrize(("state", "trigger"), pairs(DataCallHold))
def test_every_hold_state_trigger_pair(state: enum.Enum, trigger: str) -> None:
    check_pair(DataCallHold, state, trigger, _hold, max_examples=3)


def test_an_expired_hold_refuses_its_ringing_unpaired_call_once() -> None:
    hold = _hold()
    fx = hold.timer_fired(HoldTimer.EXPIRE.value, 30.0)
    assert hold.state is HoldState.EXPIRED and hold.ended
    assert any(isinstance(e, wire.Envelope) or type(e).__name__ == "Send" for e in fx), fx
    again = hold.timer_fired(HoldTimer.EXPIRE.value, 31.0)
    assert again == [Drop("stale-timer", "hold:c-1:expire")]
    assert hold.release() == [] and hold.state is HoldState.EXPIRED
