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

    def join(self, user: str, config_json: str = "{}") -> Bridge:
        bridge = Bridge(user, "ws://127.0.0.1:9", device="d1", config_json=config_json)
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


def _cmd(net: Wire, user: str, name: str, /, **args: Any) -> Any:
    """Run a command through the JSON interface, carry its effects out; its answer."""
    answer = json.loads(net.bridges[user].command(name, json.dumps(args), net.now))
    if "error" not in answer:
        net.feed(user, json.dumps(answer["effects"]))
    return answer


def _outcome(net: Wire, user: str, request: str) -> dict[str, Any]:
    found = [e for e in net.seen[user] if e["k"] in ("Resolve", "Reject")]
    return next(e for e in found if e["request_id"] == request)


def test_a_moderated_room_through_the_json_interface() -> None:
    net = Wire()
    net.join("alice"), net.join("bob")
    room = _cmd(net, "alice", "getConversation", name="team", moderated=True)["result"]
    assert room["$ref"] == "conversation:team" and room["class"] == "Conversation"
    assert room["id"] == "team" and room["status"] == "CONVERSATION_STATUS_NOT_JOINED"
    ref = room["$ref"]
    joined = _cmd(net, "alice", "join", ref=ref)["result"]["request"]
    assert _outcome(net, "alice", joined)["k"] == "Resolve"
    assert _cmd(net, "alice", "conversationInfo", ref=ref)["result"]["role"] == "moderator"
    # bob waits; the moderator gets the waiter's join request as a reference and accepts it
    theirs = _cmd(net, "bob", "getConversation", name="team")["result"]["$ref"]
    waiting = _cmd(net, "bob", "join", ref=theirs)["result"]["request"]
    assert net.emitted("bob", "waitingForModeratorAcceptance")
    [asked] = net.emitted("alice", "conversationJoinRequest")
    request = asked["payload"]
    assert request["class"] == "ReceivedConversationJoinRequest"
    assert request["sender"] == "bob/d1" and request["conversation"] == "team"
    assert [e["payload"] for e in net.emitted("alice", "contactJoinedWaitingRoom")] == ["bob/d1"]
    allowed = _cmd(net, "alice", "accept", ref=request["$ref"])["result"]["request"]
    assert _outcome(net, "alice", allowed)["k"] == "Resolve"
    assert _outcome(net, "bob", waiting)["k"] == "Resolve"
    assert [e["payload"] for e in net.emitted("alice", "contactJoined")] == ["bob/d1"]
    # a message (its number), data and a custom event reach the other member
    sent = _cmd(net, "bob", "sendMessage", ref=theirs, content="hi")["result"]["request"]
    assert isinstance(_outcome(net, "bob", sent)["value"], int)
    [message] = net.emitted("alice", "message")
    assert message["target"] == ref and message["payload"]["content"] == "hi"
    assert message["payload"]["sender"] == "bob/d1"
    _cmd(net, "bob", "sendData", ref=theirs, data={"x": 1})
    assert net.emitted("alice", "data")[0]["payload"]["content"] == {"x": 1}
    _cmd(net, "bob", "sendCustomEvent", ref=theirs, event="wave", content={"n": 2})
    custom = [e for e in net.emitted("alice", "customEvent") if e["target"] == ref]
    assert custom[0]["payload"] == {"event": "wave", "sender": "bob/d1", "content": {"n": 2}}
    # misuse: a contributor may not eject (4), nothing sent; a second join is 16
    before = len(net.seen["bob"])
    refused = _cmd(net, "bob", "eject", ref=theirs, contact="alice")
    assert refused["error"]["number"] == 4 and len(net.seen["bob"]) == before
    assert _cmd(net, "alice", "join", ref=ref)["error"]["number"] == 16
    assert _cmd(net, "alice", "close", ref=ref)["error"]["name"] == "TypeError"  # no conference
    # the moderator ejects bob: he is told, and left
    _cmd(net, "alice", "eject", ref=ref, contact="bob", reason="bye")
    assert net.emitted("bob", "participantEjected")[0]["payload"]["self"] is True
    assert net.emitted("bob", "left")
    assert _cmd(net, "bob", "conversationInfo", ref=theirs)["result"]["joined"] is False


def test_a_denied_waiter_s_join_is_rejected_with_14() -> None:
    net = Wire()
    net.join("alice"), net.join("bob")
    ref = _cmd(net, "alice", "getConversation", name="gate", moderated=True)["result"]["$ref"]
    _cmd(net, "alice", "join", ref=ref)
    theirs = _cmd(net, "bob", "getConversation", name="gate")["result"]["$ref"]
    waiting = _cmd(net, "bob", "join", ref=theirs)["result"]["request"]
    request = net.emitted("alice", "conversationJoinRequest")[0]["payload"]["$ref"]
    _cmd(net, "alice", "decline", ref=request, reason="full")
    rejected = _outcome(net, "bob", waiting)
    assert rejected["k"] == "Reject" and rejected["code"] == 14 and rejected["command"] == "join"


def test_a_relay_that_drains_moves_the_bridge_to_the_next_url_at_once() -> None:
    net = Wire()
    config = json.dumps({"fallback_urls": ["ws://127.0.0.1:2"], "retry": {"initial": 30.0}})
    alice, bob = net.join("alice", config), net.join("bob", config)
    assert net.emitted("alice", "ccsConnectionStatus")[-1]["payload"] == {"status": "connected"}
    moved = json.loads(alice.connection_moved(1.0, "closed 1012 draining"))
    [now] = [e for e in moved if e["k"] == "StartTimer" and e["timer_id"] == "session:retry"]
    assert now["deadline"] == 1.0  # no delay
    reopened = json.loads(alice.timer_fired("session:retry", 1.0))
    assert [e["url"] for e in reopened if e["k"] == "OpenTransport"] == ["ws://127.0.0.1:2"]
    # a plain loss waits for the retry policy's delay instead (no transport at once)
    lost = json.loads(bob.connection_lost(1.0, "closed 1006"))
    assert not [e for e in lost if e["k"] == "OpenTransport"]
    [retry] = [e for e in lost if e["k"] == "StartTimer" and e["timer_id"] == "session:retry"]
    assert retry["deadline"] >= 1.0 + 30.0 * 0.5  # the policy's delay, jitter at most half


def test_a_conference_s_data_and_close_through_the_json_interface() -> None:
    net = Wire()
    net.join("alice"), net.join("bob")
    ref = _cmd(net, "alice", "getConversation", name="c", conference=True)["result"]["$ref"]
    theirs = _cmd(net, "bob", "getConversation", name="c", conference=True)["result"]["$ref"]
    _cmd(net, "alice", "join", ref=ref), _cmd(net, "bob", "join", ref=theirs)
    assert _cmd(net, "alice", "conversationInfo", ref=ref)["result"]["contacts"] == ["bob/d1"]
    saved = _cmd(net, "alice", "setData", ref=ref, data={"topic": "x"})["result"]["request"]
    version = _outcome(net, "alice", saved)["value"]
    assert isinstance(version, int) and version > 0
    assert net.emitted("bob", "persistentDataUpdated")
    read = _cmd(net, "bob", "getData", ref=theirs)["result"]["request"]
    assert _outcome(net, "bob", read)["value"] == {"data": {"topic": "x"}, "version": version}
    merged = _cmd(net, "bob", "updateData", ref=theirs, changes={"n": 1})["result"]["request"]
    assert _outcome(net, "bob", merged)["k"] == "Resolve"
    closed = _cmd(net, "alice", "close", ref=ref)["result"]["request"]
    assert _outcome(net, "alice", closed)["k"] == "Resolve"
    assert net.emitted("bob", "closed") and net.emitted("bob", "left")


def test_bad_conversation_commands_are_error_answers_and_send_nothing() -> None:
    net = Wire()
    net.join("alice"), net.join("bob")
    ref = _cmd(net, "alice", "getConversation", name="r")["result"]["$ref"]
    _cmd(net, "alice", "join", ref=ref)
    call = _cmd(net, "alice", "call", contact="bob")["result"]["$ref"]
    before = len(net.seen["alice"])
    refused = {
        "no name": _cmd(net, "alice", "getConversation"),
        "content not text": _cmd(net, "alice", "sendMessage", ref=ref, content=5),
        "data not an object": _cmd(net, "alice", "sendData", ref=ref, data="x"),
        "no event": _cmd(net, "alice", "sendCustomEvent", ref=ref),
        "a call is no room": _cmd(net, "alice", "sendCustomEvent", ref=call, event="e"),
        "unknown room": _cmd(net, "alice", "leave", ref="conversation:nope"),
        "a moderator ejecting itself": _cmd(net, "alice", "eject", ref=ref, contact="alice"),
    }
    for what, answer in refused.items():
        assert "error" in answer, what
    assert len(net.seen["alice"]) == before  # nothing carried out
    assert _cmd(net, "alice", "conversationInfo", ref=ref)["result"]["joined"] is True


def test_an_invitation_to_a_room_through_the_json_interface() -> None:
    net = Wire()
    net.join("alice"), net.join("bob")
    ref = _cmd(net, "alice", "getConversation", name="party")["result"]["$ref"]
    _cmd(net, "alice", "join", ref=ref)
    sent = _cmd(net, "alice", "sendInvitation", ref=ref, contact="bob", expiration=30)["result"]
    assert sent["class"] == "SentConversationInvitation" and sent["contact"] == "bob"
    assert sent["$ref"] == f"invitation:{sent['id']}" and sent["conversation"] == "party"
    [got] = [e for e in net.emitted("bob", "conversationInvitation") if e["target"] == "session"]
    invitation = got["payload"]
    assert invitation["class"] == "ReceivedConversationInvitation"
    assert invitation["sender"] == "alice/d1" and invitation["conversation"] == "party"
    assert [e["target"] for e in net.emitted("alice", "receive")] == [sent["$ref"]]
    answer = _cmd(net, "bob", "accept", ref=invitation["$ref"])["result"]
    assert answer["conversation"]["$ref"] == "conversation:party"
    assert _outcome(net, "bob", answer["request"])["k"] == "Resolve"  # the join
    assert net.emitted("alice", "contactJoined")[0]["payload"] == "bob/d1"
    accepted = [e for e in net.emitted("alice", "statusChange") if e["target"] == sent["$ref"]]
    assert accepted[-1]["payload"]["status"] == "INVITATION_STATUS_ACCEPTED"
    # a second answer is refused, nothing changes
    assert _cmd(net, "bob", "accept", ref=invitation["$ref"])["error"]["number"] == 16


def test_a_created_stream_published_in_a_room_and_subscribed_to() -> None:
    net = Wire()
    net.join("alice"), net.join("bob")
    asked = _cmd(net, "alice", "createStream", audio=True, video=False)
    [acquire] = [e for e in asked["effects"] if e["k"] == "AcquireMedia"]
    request = asked["result"]["request"]
    assert acquire["request_id"] == request and acquire["video"] is False
    fields = {"request_id": request, "stream_id": "cam-1", "audio": True, "video": False}
    made = net.feed(
        "alice", net.bridges["alice"].media_event("MediaAcquired", json.dumps(fields), 0)
    )
    assert made == [{"k": "Resolve", "target": "stream:cam-1", "request_id": request,
                     "command": "createStream",
                     "value": {"streamId": "cam-1", "audio": True, "video": False}}]  # fmt: skip
    # the same report again (nobody waits): the media is released, the core never sees it
    again = json.loads(net.bridges["alice"].media_event("MediaAcquired", json.dumps(fields), 0))
    assert again == [{"k": "ReleaseMedia", "stream_id": "cam-1"}]
    ref = _cmd(net, "alice", "getConversation", name="live")["result"]["$ref"]
    theirs = _cmd(net, "bob", "getConversation", name="live")["result"]["$ref"]
    _cmd(net, "alice", "join", ref=ref), _cmd(net, "bob", "join", ref=theirs)
    published = _cmd(net, "alice", "publish", ref=ref, streamId="cam-1")["result"]["request"]
    assert _outcome(net, "alice", published)["k"] == "Resolve"
    listed = _cmd(net, "bob", "streamList", ref=theirs)["result"]["streams"]
    assert [s["streamId"] for s in listed] == ["cam-1"]
    subscribed = _cmd(net, "bob", "subscribeToStream", ref=theirs, streamId="cam-1")["result"]
    assert _outcome(net, "bob", subscribed["request"])["k"] == "Resolve"
    # the conversation call: bob's side makes a peer connection, alice's sends her stream
    [call] = _cmd(net, "bob", "streamList", ref=theirs)["result"]["calls"]
    assert any(e["k"] == "CreatePeerConnection" and e["call_id"] == call for e in net.seen["bob"])
    assert any(e["k"] == "PublishStream" and e["stream_id"] == "cam-1" for e in net.seen["alice"])
    # misuse: an unknown local stream (8), a failed acquisition rejected (0)
    assert _cmd(net, "alice", "publish", ref=ref, streamId="nope")["error"]["number"] == 8
    failed_request = _cmd(net, "alice", "createStream")["result"]["request"]
    failure = {"request_id": failed_request, "error": "NotAllowedError"}
    out = json.loads(net.bridges["alice"].media_event("MediaFailed", json.dumps(failure), 0))
    assert out[0]["k"] == "Reject" and out[0]["code"] == 0 and out[0]["info"] == "NotAllowedError"
