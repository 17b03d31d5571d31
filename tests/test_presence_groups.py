"""Coalesced presence on the client (``rtcstate.presence_groups``): a connected session fed the
relay's ``presence_batch`` changes per group, checked effect by effect (contactListUpdate per
batch, joinGroup/leaveGroup per contact, the sources a contact is heard from, its own device,
the older form's offline delay, the ringing calls told the caller's devices)."""

from __future__ import annotations

from typing import Any

from rtcstate import wire
from rtcstate.codes import CallType
from rtcstate.effects import CancelTimer, Effect, Emit, StartTimer
from rtcstate.presence_groups import CONTACTS
from rtcstate.session import Session, SessionConfig, SessionState

URL = "ws://127.0.0.1:9"


def connected(**kw: Any) -> Session:
    s = Session(SessionConfig("alice", server_url=URL, device="d1", **kw))
    s.register(0.0)
    s.connection_made(0.0)
    s.receive(server(wire.Registered(user="alice", device="d1", session_id="S1")), 0.0)
    assert s.state is SessionState.CONNECTED
    return s


def server(msg: wire.Message, sender: str | None = None) -> bytes:
    return wire.encode(msg, to="alice/d1", sender=sender)


def batch(
    s: Session, devices: list[str], group: str | None = "g", left: list[str] | None = None
) -> list[Effect]:
    msg = wire.PresenceBatch(devices=devices, group=group, left=left or [])
    return s.receive(server(msg), 1.0)


def update(joined: dict[str, list[str]], left: dict[str, list[str]]) -> Emit:
    payload = {"joinedGroup": joined, "leftGroup": left, "userDataChanged": []}
    return Emit("session", "contactListUpdate", payload)


def test_joining_a_group_is_one_update_and_one_join_per_contact() -> None:
    s = connected()
    fx = batch(s, ["bob/p", "bob/q", "carol/x", "alice/d1"])
    assert fx == [
        update({"g": ["bob", "carol"]}, {}),
        Emit("contact:bob", "joinGroup", "g"),
        Emit("contact:carol", "joinGroup", "g"),
    ]
    assert s.contacts == {"bob": ("bob/p", "bob/q"), "carol": ("carol/x",)}
    assert s.presence_scope.heard == {"bob": {"g": None}, "carol": {"g": None}}
    # the same group again: new devices, no news
    assert batch(s, ["bob/p"]) == [] and s.contacts["bob"] == ("bob/p",)


def test_a_contact_heard_from_two_sources_stays_online_until_both_are_gone() -> None:
    s = connected()
    batch(s, ["bob/p"])
    assert batch(s, ["bob/p"], group=None) == [update({CONTACTS: ["bob"]}, {})]  # no joinGroup
    assert s.presence_scope.heard["bob"] == {"g": None, "": None}
    fx = batch(s, [], left=["bob"])
    assert fx == [update({}, {"g": ["bob"]}), Emit("contact:bob", "leaveGroup", "g")]
    assert s.contacts == {"bob": ("bob/p",)}  # still heard through the subscription
    assert batch(s, [], group=None, left=["bob"]) == [update({}, {CONTACTS: ["bob"]})]
    assert s.contacts == {} and "bob" not in s.presence_scope.heard
    assert batch(s, [], group=None, left=["bob"]) == []  # already gone: nothing
    assert batch(s, [], left=["nobody"]) == []


def test_joined_and_left_in_one_batch() -> None:
    s = connected()
    batch(s, ["bob/p"])
    fx = batch(s, ["carol/x"], left=["bob"])
    assert fx == [
        update({"g": ["carol"]}, {"g": ["bob"]}),
        Emit("contact:carol", "joinGroup", "g"),
        Emit("contact:bob", "leaveGroup", "g"),
    ]
    assert s.contacts == {"carol": ("carol/x",)}


def test_its_own_device_is_no_news_but_its_other_devices_are() -> None:
    s = connected()
    assert batch(s, ["alice/d1"]) == [] and s.contacts == {}
    assert batch(s, ["alice/d2", "alice/d1"]) == [
        update({"g": ["alice"]}, {}),
        Emit("contact:alice", "joinGroup", "g"),
    ]
    assert s.contacts == {"alice": ("alice/d2",)}
    # listed with only this very device: the other one left the group
    assert batch(s, ["alice/d1"]) == [
        update({}, {"g": ["alice"]}),
        Emit("contact:alice", "leaveGroup", "g"),
    ]
    assert s.contacts == {}


def test_a_batch_cancels_the_older_forms_offline_delay() -> None:
    s = connected()
    s.receive(server(wire.Presence(contact="bob", online=True, devices=["bob/p"])), 0.5)
    assert s.receive(server(wire.Presence(contact="bob", online=False, devices=[])), 0.6) == [
        StartTimer("presence:bob:offline", 10.6)
    ]
    fx = batch(s, ["bob/p"])
    assert fx[0] == CancelTimer("presence:bob:offline")
    assert "presence:bob:offline" not in s.armed_timers()
    assert s.contacts == {"bob": ("bob/p",)}


def test_a_ringing_call_hears_its_callers_devices() -> None:
    s = connected()
    batch(s, ["bob/p"])
    s.receive(server(wire.Invite("c1", CallType.MEDIA, sdp="o"), "bob/p"), 2.0)
    assert [c.call_id for c in s.ringing_from("bob")] == ["c1"]
    gone = batch(s, ["bob/q"])  # the caller's device is no longer listed
    timers = [e for e in gone if isinstance(e, StartTimer)]
    assert len(timers) == 1 and "c1" in timers[0].timer_id
    back = batch(s, ["bob/p", "bob/q"])
    assert CancelTimer(timers[0].timer_id) in back


def test_a_contact_listed_after_this_very_device_is_still_heard() -> None:
    s = connected()
    assert batch(s, ["alice/d1", "bob/p"]) == [
        update({"g": ["bob"]}, {}),
        Emit("contact:bob", "joinGroup", "g"),
    ]
    assert s.contacts == {"bob": ("bob/p",)}


def test_a_ringing_call_hears_that_its_caller_left_every_source() -> None:
    s = connected()
    batch(s, ["bob/p"])
    s.receive(server(wire.Invite("c1", CallType.MEDIA, sdp="o"), "bob/p"), 2.0)
    fx = batch(s, [], left=["bob"])
    window = s.settings.server_loss_window
    timers = [e for e in fx if isinstance(e, StartTimer)]
    assert len(timers) == 1 and "c1" in timers[0].timer_id
    assert timers[0].deadline == 1.0 + window  # armed at the batch's time
    assert s.contacts == {}


def test_the_older_form_mixed_in_never_raises() -> None:
    """A contact the older form took offline (no delay) while still heard from two sources:
    leaving one source tells its ringing call it has no device, leaving the last one finds
    it already gone from the online contacts."""
    s = connected(contact_disconnection_delay=0)
    batch(s, ["bob/p"])
    batch(s, ["bob/p"], group=None)
    s.receive(server(wire.Invite("c1", CallType.MEDIA, sdp="o"), "bob/p"), 2.0)
    s.receive(server(wire.Presence(contact="bob", online=False, devices=[])), 2.5)
    assert "bob" not in s.contacts and s.presence_scope.heard["bob"] == {"g": None, "": None}
    fx = batch(s, [], left=["bob"])
    assert fx[-2:] == [update({}, {"g": ["bob"]}), Emit("contact:bob", "leaveGroup", "g")]
    assert batch(s, [], group=None, left=["bob"])[-1] == update({}, {CONTACTS: ["bob"]})
    assert "bob" not in s.contacts and "bob" not in s.presence_scope.heard
