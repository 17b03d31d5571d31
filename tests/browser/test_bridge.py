"""The Python half of the browser adapter, natively: effects as JSON, bytes as blobs, commands.

Two bridges are wired to a sans-I/O hub here (no socket, no browser): what one sends reaches the
other, so a call, a data channel and a file go through the bridge's JSON interface exactly as
the JavaScript runtime drives it in the page.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from rtcstate_browser.bridge import MEDIA_REPORTS, Bridge

from rtcstate.hub import Deliver, Hub


class Wire:
    """Bridges on a hub: sends are delivered, media effects are recorded per bridge."""

    def __init__(self) -> None:
        self.hub = Hub()
        self.now = 0.0
        self.bridges: dict[str, Bridge] = {}
        self.conns: dict[str, str] = {}
        self.seen: dict[str, list[dict[str, Any]]] = {}

    def join(self, user: str) -> Bridge:
        bridge = Bridge(user, "ws://127.0.0.1:9", device="d1")
        conn = f"c{len(self.bridges)}"
        self.bridges[user], self.conns[conn], self.seen[user] = bridge, user, []
        self.feed(user, bridge.command("register", "{}", self.now))
        self.hub.connect(conn, self.now)
        self.feed(user, bridge.connection_made(self.now))
        return bridge

    def feed(self, user: str, text: str) -> list[dict[str, Any]]:
        answer = json.loads(text)
        effects = answer["effects"] if isinstance(answer, dict) else answer
        blobs = self.bridges[user].blobs
        for e in effects:
            self.seen[user].append(_revive(e, blobs))
        for e in effects:
            if e["k"] == "Send":
                conn = next(c for c, u in self.conns.items() if u == user)
                self.deliver(self.hub.receive(conn, e["data"], self.now))
        return list(effects)

    def deliver(self, out: list[Any]) -> None:
        for d in out:
            if isinstance(d, Deliver):
                from rtcstate import wire

                user = self.conns[d.conn]
                self.feed(
                    user,
                    self.bridges[user].receive(wire.encode_envelope(d.envelope).decode(), self.now),
                )

    def emitted(self, user: str, event: str) -> list[dict[str, Any]]:
        return [e for e in self.seen[user] if e["k"] == "Emit" and e["event"] == event]


def _revive(value: Any, blobs: list[bytes]) -> Any:
    if isinstance(value, dict):
        if set(value) == {"$blob"}:
            return blobs[value["$blob"]]
        return {k: _revive(v, blobs) for k, v in value.items()}
    if isinstance(value, list):
        return [_revive(v, blobs) for v in value]
    return value


def test_registration_effects_are_plain_json() -> None:
    b = Bridge("alice", "ws://127.0.0.1:9", device="d1")
    answer = json.loads(b.command("register", "{}", 0.0))
    kinds = [e["k"] for e in answer["effects"]]
    assert "OpenTransport" in kinds
    assert answer["effects"][kinds.index("OpenTransport")]["url"] == "ws://127.0.0.1:9"
    sent = json.loads(b.connection_made(0.1))
    register = [e for e in sent if e["k"] == "Send"]
    assert register and json.loads(register[0]["data"])["type"] == "register"
    assert all(e["k"] != "Drop" for e in sent)


def test_misuse_is_an_error_answer_and_changes_nothing() -> None:
    b = Bridge("alice", "ws://127.0.0.1:9")
    answer = json.loads(b.command("call", json.dumps({"contact": "bob"}), 0.0))
    assert answer["error"]["name"] == "ERROR_WRONG_STATE"
    assert answer["error"]["number"] == 16
    assert b.session.calls() == {}
    assert json.loads(b.command("hangUp", json.dumps({"ref": "call:nope"}), 0.0))["error"]
    assert json.loads(b.command("noSuchCommand", "{}", 0.0))["error"]
    assert json.loads(b.command("register", "[1]", 0.0))["error"]


@settings(max_examples=200, deadline=None)
@given(
    kind=st.sampled_from([*MEDIA_REPORTS, "Nope", ""]),
    fields=st.dictionaries(st.text(max_size=12), st.none() | st.integers() | st.text(max_size=8)),
)
def test_any_media_report_from_javascript_never_raises(kind: str, fields: dict[str, Any]) -> None:
    b = Bridge("alice", "ws://127.0.0.1:9")
    b.command("register", "{}", 0.0)
    out = json.loads(b.media_event(kind, json.dumps(fields), 1.0))
    assert isinstance(out, list)
    assert isinstance(json.loads(b.media_event(kind, "not json", 1.0)), list)


def test_a_call_a_channel_and_a_file_through_the_json_interface() -> None:
    net = Wire()
    alice, bob = net.join("alice"), net.join("bob")
    assert net.emitted("alice", "ccsConnectionStatus")
    # a data channel: alice starts, bob accepts the invitation by reference
    answer = json.loads(alice.command("startDataChannel", json.dumps({"contact": "bob"}), 0.0))
    channel = answer["result"]
    assert channel["$ref"].startswith("dataChannel:") and channel["class"] == "DataChannel"
    net.feed("alice", json.dumps(answer["effects"]))
    # media effects come out as plain records for the JavaScript backend, whose reports go in
    offer = next(e for e in net.seen["alice"] if e["k"] == "CreateOffer")
    assert any(e["k"] == "CreatePeerConnection" for e in net.seen["alice"])
    ready = {"call_id": offer["call_id"], "sdp_type": "offer", "sdp": "v=0\r\n"}
    net.feed("alice", alice.media_event("LocalDescriptionReady", json.dumps(ready), 0.1))
    invitation = net.emitted("bob", "dataChannelInvitation")[0]["payload"]
    assert (
        invitation["class"] == "ReceivedDataChannelInvitation" and invitation["sender"] == "alice"
    )
    # references carry the wire ids a driver finds objects by (the conformance testee does)
    assert invitation["channelId"] == channel["channelId"] == channel["id"]
    assert invitation["callId"] == offer["call_id"] != invitation["channelId"]
    accepted = json.loads(bob.command("accept", json.dumps({"ref": invitation["$ref"]}), 0.0))
    assert accepted["result"]["class"] == "DataChannel"
    assert accepted["result"]["channelId"] == channel["channelId"]
    net.feed("bob", json.dumps(accepted["effects"]))
    remote = [e for e in net.seen["bob"] if e["k"] == "SetRemoteDescription"]
    assert remote and remote[0]["sdp"] == "v=0\r\n" and remote[0]["sdp_type"] == "offer"
    # a file offer carries its info; bytes in a received chunk come back as blobs
    data = bytes(range(256)) * 8
    sent = json.loads(
        alice.command(
            "sendFile", json.dumps({"contact": "bob", "name": "f.bin", "size": len(data)}), 0.0
        )
    )
    assert sent["result"]["class"] == "FileTransfer"
    assert sent["result"]["transferId"] == sent["result"]["id"]
    assert sent["result"]["fileInfo"] == {
        "name": "f.bin",
        "type": "application/octet-stream",
        "size": len(data),
    }
    assert hashlib.sha256(data).hexdigest()  # the transfer itself is exercised in Chromium


def test_feed_for_an_unknown_transfer_is_no_effect() -> None:
    b = Bridge("alice", "ws://127.0.0.1:9")
    assert json.loads(b.feed("transfer-nope", 0, b"abc", 0.0)) == []


def test_channel_message_bytes_and_text_never_raise() -> None:
    b = Bridge("alice", "ws://127.0.0.1:9")
    b.command("register", "{}", 0.0)
    assert isinstance(json.loads(b.channel_message("dc-nope", b"\x00\x01", 0.0)), list)
    assert isinstance(json.loads(b.channel_message("dc-nope", "text", 0.0)), list)


def test_call_options_are_the_cores_and_a_bad_one_is_refused() -> None:
    import pytest

    from rtcstate.codes import ErrorNumber
    from rtcstate.settings import ParameterError

    b = Bridge("alice", "ws://127.0.0.1:9", None, json.dumps({"allow_multiple_calls": False}))
    assert b.session.settings.allow_multiple_calls is False
    with pytest.raises(ParameterError) as info:
        Bridge("alice", "ws://127.0.0.1:9", None, json.dumps({"allow_multiple_calls": "no"}))
    assert info.value.code is ErrorNumber.ERROR_BAD_PARAMETER
    assert "setAllowMultipleCalls" in str(info.value)


def test_session_settings_from_javascript() -> None:
    import pytest
    from rtcstate_browser.bridge import session_settings

    from rtcstate.errors import RtcError
    from rtcstate.retry import ExponentialBackoff

    config = {
        "keepalive_interval": 0.5,
        "keepalive_timeout": 2,
        "register_timeout": 3,
        "retry": {"initial": 0.2, "maximum": 1.0, "max_elapsed": 30.0},
        "calls": {"connect_timeout": 12.0},
    }
    b = Bridge("alice", "ws://127.0.0.1:9", "d7", "{}", json.dumps(config))
    got = b.session.config
    assert (got.user, got.device, got.server_url) == ("alice", "d7", "ws://127.0.0.1:9")
    assert (got.keepalive_interval, got.keepalive_timeout, got.register_timeout) == (0.5, 2.0, 3.0)
    assert got.retry_policy == ExponentialBackoff(initial=0.2, maximum=1.0, max_elapsed=30.0)
    assert got.calls.connect_timeout == 12.0 and b.session.settings.connect_timeout == 12.0
    assert session_settings({"keepalive_interval": None}) == {"keepalive_interval": None}
    assert Bridge("bob", "ws://127.0.0.1:9").session.config.keepalive_interval == 20.0
    for bad in ({"nope": 1}, {"retry": 3}, {"calls": {"nope": 1}}, {"retry": {"nope": 1}}):
        with pytest.raises(TypeError):
            Bridge("alice", "ws://127.0.0.1:9", None, "{}", json.dumps(bad))
    with pytest.raises(RtcError):  # the core's own check of a value
        Bridge("alice", "ws://127.0.0.1:9", None, "{}", json.dumps({"keepalive_timeout": 0}))
