"""Conversation media through the asyncio API (fake media, a real relay on 127.0.0.1):
``ua.create_stream``, ``publish`` / ``subscribe_to_stream`` / ``unsubscribe_to_stream`` /
``unpublish`` / ``replace_published_stream``, ``streamListChanged`` buffered until the first
listener, ``streamAdded`` / ``streamRemoved`` with :class:`Stream` objects, Stream commands and
events, and the typed errors of misuse."""

from __future__ import annotations

import pytest
from adaptertools import WAIT, run, until, world
from rtcstate_asyncio import ConversationError, FakeMedia, FakeMediaNetwork, Stream

from rtcstate.codes import ErrorNumber
from rtcstate.errors import RtcError

ROOM = "mesh"

_NET = FakeMediaNetwork()


def _media(user: str) -> FakeMedia:
    return _NET.backend(user)


def test_create_publish_subscribe_and_the_events() -> None:
    async def test() -> None:
        async with world(_media) as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            a, b = alice.get_conversation(ROOM), bob.get_conversation(ROOM)
            await a.join()
            await b.join()
            assert b.fired("roomModeChanged")[0]["newMode"] == "mesh"
            cam = await w.uas["alice"].create_stream()
            assert isinstance(cam, Stream) and not cam.is_remote
            assert cam.has_audio() and cam.has_video() and not cam.released
            assert await a.publish(cam, {"context": {"label": "cam"}}) is cam
            assert a.is_published_stream(cam) and cam.get_published_in_conversations() == [ROOM]
            await until(lambda: len(b.get_available_stream_list()) == 1)
            (info,) = b.get_available_stream_list()
            assert info["streamId"] == cam.stream_id and info["isRemote"] is True
            assert info["contact"] == "alice/default" and info["context"] == {"label": "cam"}
            # buffered until the first listener: the earlier "added" arrives now, in order
            listed = b.events("streamListChanged")
            first = await listed.next(WAIT)
            assert first.payload["listEventType"] == "added"
            assert first.payload["streamId"] == cam.stream_id
            assert b.fired("availableStreamsUpdated")[-1].keys() == {cam.stream_id}

            added = b.events("streamAdded", "streamRemoved")
            await b.subscribe_to_stream(cam.stream_id)
            event = await added.next(WAIT)
            assert event.name == "streamAdded" and isinstance(event.payload, Stream)
            remote = event.payload
            assert remote.is_remote and remote.stream_id == cam.stream_id
            assert remote.contact == "alice/default"
            assert b.get_remote_stream(cam.stream_id) is remote
            call_id = b.get_conversation_call_id(cam.stream_id)
            assert call_id is not None and a.get_conversation_call_id(cam) == call_id

            b.unsubscribe_to_stream(cam.stream_id)
            gone = await added.next(WAIT)
            assert gone.name == "streamRemoved" and gone.payload is remote
            await until(lambda: not a.core.media.calls)

            # subscribe again, then the publisher withdraws: removed everywhere
            await b.subscribe_to_stream(cam.stream_id)
            assert (await added.next(WAIT)).name == "streamAdded"
            a.unpublish(cam)
            assert (await added.next(WAIT)).name == "streamRemoved"
            removed = await listed.next(WAIT)
            assert removed.payload["listEventType"] == "removed"
            assert b.get_available_stream_list() == [] and not a.is_published_stream(cam)

    run(test)


def test_replace_published_stream_and_stream_commands() -> None:
    async def test() -> None:
        async with world(_media) as w:
            alice, bob = await w.join("alice"), await w.join("bob")
            a, b = alice.get_conversation(ROOM), bob.get_conversation(ROOM)
            await a.join()
            await b.join()
            cam = await w.uas["alice"].create_stream(video=False)
            assert cam.has_audio() and not cam.has_video()
            flows = cam.events("audioFlowStatusChanged", "release", "stopped")
            cam.disable_audio()
            assert (await flows.next(WAIT)).payload["enabled"] is False
            cam.enable_audio()
            assert (await flows.next(WAIT)).payload["enabled"] is True
            with pytest.raises(RtcError) as no_video:
                cam.disable_video()
            assert no_video.value.code is ErrorNumber.ERROR_BAD_PARAMETER

            await a.publish(cam)
            await until(lambda: len(b.get_available_stream_list()) == 1)
            screen = await w.uas["alice"].create_stream()
            assert await a.replace_published_stream(cam, screen) is screen
            await until(lambda: [s["streamId"] for s in b.get_available_stream_list()]
                        == [screen.stream_id])  # fmt: skip
            assert not a.is_published_stream(cam) and a.is_published_stream(screen)
            cam.release()
            assert [(await flows.next(WAIT)).name for _ in range(2)] == ["release", "stopped"]
            assert cam.released

    run(test)


def test_misuse_raises_with_the_apirtc_number() -> None:
    async def test() -> None:
        async with world(_media) as w:
            alice = await w.join("alice")
            a = alice.get_conversation(ROOM)
            cam = await w.uas["alice"].create_stream()
            with pytest.raises(RtcError) as not_joined:
                await a.publish(cam)
            assert not_joined.value.code is ErrorNumber.ERROR_WRONG_STATE
            await a.join()
            with pytest.raises(RtcError) as unknown:
                await a.subscribe_to_stream("nobody")
            assert unknown.value.code is ErrorNumber.ERROR_NOT_FOUND
            with pytest.raises(RtcError) as unknown:
                a.unpublish("nobody")
            assert unknown.value.code is ErrorNumber.ERROR_NOT_FOUND
            with pytest.raises(RtcError) as bad:
                await w.uas["alice"].create_stream(audio=False, video=False)
            assert bad.value.code is ErrorNumber.ERROR_BAD_PARAMETER
            # the relay refuses a stream id taken by another member
            bob = await w.join("bob")
            b = bob.get_conversation(ROOM)
            await b.join()
            await a.publish(cam)
            twin = Stream(bob, type(cam.core)(cam.stream_id))
            with pytest.raises(ConversationError) as taken:
                await b.publish(twin)
            assert taken.value.command == "publish"
            assert not b.is_published_stream(twin)
        with pytest.raises(RtcError) as unregistered:
            await w.uas["alice"].create_stream()
        assert unregistered.value.code is ErrorNumber.ERROR_WRONG_STATE

    run(test)
